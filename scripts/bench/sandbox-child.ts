/**
 * The provider sandbox in its own process, for benchmarks (see procs.ts). Options come as JSON in
 * BENCH_SANDBOX: `{ "defaultRateLimit": {...}, "jobDurationMs": n }`.
 */
import { startSandbox, CallFilter, Fault, KeyRule, SandboxOptions, Vendor } from '../sandbox';
import { serveParent } from './procs';

export interface SandboxChildInfo {
  urls: { openai: string; elevenlabs: string; fal: string; falQueue: string; kling: string };
  defaultKeys: Record<Vendor, string[]>;
  pid: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.env.BENCH_SANDBOX ?? '{}') as SandboxOptions;
  const sb = await startSandbox({ ...opts, port: 0, host: '127.0.0.1' });
  const info: SandboxChildInfo = { urls: sb.urls, defaultKeys: sb.defaultKeys, pid: process.pid };
  serveParent(
    info,
    {
      configureKey: (vendor, key, rule) => sb.configureKey(vendor as Vendor, key as string, rule as KeyRule),
      injectFaults: (vendor, faults) => sb.injectFaults(vendor as Vendor, faults as Fault[]),
      calls: (filter) => sb.calls((filter ?? {}) as CallFilter),
      /** Call records from index `from` on (the log only grows). */
      log: (from) => sb.log().slice(Number(from ?? 0)),
      reset: () => sb.reset(),
      revokeKey: (vendor, key) => sb.revokeKey(vendor as Vendor, key as string),
      restoreKey: (vendor, key) => sb.restoreKey(vendor as Vendor, key as string),
      setTiming: (timing) => sb.setTiming(timing as 'fast' | 'realistic'),
      memory: () => process.memoryUsage(),
    },
    () => sb.close(),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
