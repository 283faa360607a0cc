/**
 * Our gateway (the local server: the same app the Lambda handler runs) in its own process, for
 * benchmarks (see procs.ts). Configured entirely from its environment, like `npm start`.
 */
import { startLocalStack } from '../local/stack';
import { createLogger } from '../../lambda/observability/logger';
import { serveParent } from './procs';

export interface GatewayChildInfo {
  url: string;
  dynamoEndpoint: string;
  pid: number;
}

async function main(): Promise<void> {
  const stack = await startLocalStack({ port: 0, env: process.env, log: createLogger() });
  const info: GatewayChildInfo = { url: stack.url, dynamoEndpoint: stack.dynamoEndpoint, pid: process.pid };
  const gc = (globalThis as { gc?: () => void }).gc;
  serveParent(
    info,
    {
      /** Writes everything recorded so far (STATUS included) and returns the flusher's counters. */
      flush: async () => {
        await stack.runtime.flusher.flush();
        return { ...stack.runtime.flusher.stats, pendingBuckets: stack.runtime.flusher.pendingBuckets };
      },
      /** Memory of this process; `collect` runs a full GC first (the child runs with --expose-gc). */
      memory: (collect) => {
        if (collect && gc) gc();
        return process.memoryUsage();
      },
      pools: () => Object.fromEntries(stack.runtime.pools.vendors().map((v) => [v, stack.runtime.pools.get(v).view()])),
    },
    () => stack.close(),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
