/**
 * Provider sandbox: real HTTP servers on loopback imitating OpenAI, ElevenLabs, fal.ai (sync +
 * queue) and Kling, faithful to shared/reference/providers.md. One server and one port, routed by
 * path prefix: /openai/v1, /elevenlabs, /fal, /fal-queue, /kling (+ /files for generated media).
 * Used by `npm start` (vendors without keys) and by integration, benchmark and resilience tests.
 * See scripts/sandbox/README.md.
 */
import { createElevenLabs } from './elevenlabs';
import { createFalPlatform, createFalQueue, createFalSync } from './fal';
import { createKling, splitKlingEntry } from './kling';
import { createOpenAI } from './openai';
import { createHttpServer, DEFAULT_FIRST_BYTE_MS, DEFAULT_SPEEDUP, listen, SandboxCore } from './server';
import type { CallFilter, CallRecord, Fault, KeyRule, Sandbox, SandboxOptions, SandboxUrls, Timing, Vendor } from './types';
import { VENDORS } from './types';

export type {
  AccountFacts,
  CallFilter,
  CallRecord,
  Fault,
  FaultScope,
  KeyRestriction,
  KeyRule,
  RateLimit,
  RealisticTiming,
  RetryHint,
  Sandbox,
  SandboxOptions,
  SandboxUrls,
  Timing,
  Vendor,
} from './types';
export { VENDORS } from './types';
export { DEFAULT_LIMITS, DEFAULT_HINTS } from './server';
export { klingJwt, splitKlingEntry, verifyKlingJwt } from './kling';
export { goDuration } from './limits';

/** Demo keys, in the real shapes and obviously fake. Valid whatever acceptUnknownKeys says. */
export const DEFAULT_KEYS: Readonly<Record<Vendor, readonly string[]>> = {
  openai: ['sk-sandbox-openai-key-1-5f0c3a9e71d24b86', 'sk-sandbox-openai-key-2-a83e6b1c9d07f452', 'sk-sandbox-openai-key-3-2c7d94e0b5a16f38'],
  elevenlabs: ['sandboxe100000000000000000000001', 'sandboxe100000000000000000000002', 'sandboxe100000000000000000000003'],
  fal: [
    'sandbox-fal-key-1:sandboxsecret1a9f3c07e2d54b61',
    'sandbox-fal-key-2:sandboxsecret2b4e81d6f9c03a75',
    'sandbox-fal-key-3:sandboxsecret3c2f7a5d08e6b914',
  ],
  kling: ['SANDBOXAK1:sandbox-secret-1-0d7e3b9f2a6c4851', 'SANDBOXAK2:sandbox-secret-2-8a1f5c3e7b9d0264', 'SANDBOXAK3:sandbox-secret-3-4c9b2e8f1d7a6035'],
};

function checkTiming(t: string): Timing {
  if (t !== 'fast' && t !== 'realistic') throw new Error(`timing must be 'fast' or 'realistic', got '${t}'`);
  return t;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const host = opts.host ?? '127.0.0.1';
  const core = new SandboxCore(host, opts.acceptUnknownKeys ?? true, opts.jobDurationMs ?? 3000, opts.now ?? Date.now, opts.defaultRateLimit ?? {});
  core.onCall = opts.onCall;
  const envTiming = process.env.SANDBOX_TIMING?.trim();
  core.timing = checkTiming(opts.timing ?? (envTiming === undefined || envTiming === '' ? 'fast' : envTiming));
  core.firstByteMs = opts.realisticTiming?.firstByteMs ?? DEFAULT_FIRST_BYTE_MS;
  core.speedup = opts.realisticTiming?.speedup ?? DEFAULT_SPEEDUP;
  if (!(core.firstByteMs >= 0) || !(core.speedup > 0)) throw new Error('realisticTiming needs firstByteMs >= 0 and speedup > 0');

  const addKlingKey = (entry: string): void => {
    const { access, secret } = splitKlingEntry(entry);
    core.klingSecrets.set(access, secret);
    core.addKnown('kling', access);
  };
  for (const v of VENDORS) {
    for (const k of DEFAULT_KEYS[v]) {
      if (v === 'kling') addKlingKey(k);
      else core.addKnown(v, k);
    }
  }

  const modules = [createOpenAI(core), createElevenLabs(core), createFalSync(core), createFalQueue(core), createFalPlatform(core), createKling(core)];
  const server = createHttpServer(core, modules);
  core.port = await listen(server, opts.port ?? 0, host);
  const root = core.root();
  const urls: SandboxUrls = {
    openai: `${root}/openai/v1`,
    elevenlabs: `${root}/elevenlabs`,
    fal: `${root}/fal`,
    falQueue: `${root}/fal-queue`,
    kling: `${root}/kling`,
    falPlatform: `${root}/fal-api/v1`,
  };
  const defaultKeys = Object.fromEntries(VENDORS.map((v) => [v, [...DEFAULT_KEYS[v]]])) as Record<Vendor, string[]>;
  let closed: Promise<void> | undefined;

  const ruleKey = (vendor: Vendor, key: string): string => (vendor === 'kling' && key.includes(':') ? splitKlingEntry(key).access : key);
  const keyMatches = (rec: CallRecord, key: string): boolean =>
    rec.key === key || (rec.vendor === 'kling' && key.includes(':') && rec.key === key.slice(0, key.indexOf(':')).trim());

  const sandbox: Sandbox = {
    port: core.port,
    urls,
    defaultKeys,

    configureKey(vendor: Vendor, key: string, rule: KeyRule): void {
      if (rule.rateLimit && (!(rule.rateLimit.calls >= 0) || !(rule.rateLimit.windowMs > 0))) {
        throw new Error('rateLimit needs calls >= 0 and windowMs > 0');
      }
      if (rule.concurrency !== undefined && !(Number.isInteger(rule.concurrency) && rule.concurrency >= 0)) {
        throw new Error('concurrency needs a non-negative integer');
      }
      if (vendor === 'kling' && key.includes(':')) addKlingKey(key);
      else core.addKnown(vendor, key);
      core.setRule(vendor, ruleKey(vendor, key), rule);
    },

    addKlingKey,

    injectFaults(vendor: Vendor, faults: Fault[]): void {
      core.faults.inject(vendor, faults);
    },

    calls(filter: CallFilter = {}): number {
      return core.records.filter(
        (r) =>
          (filter.vendor === undefined || r.vendor === filter.vendor) &&
          (filter.key === undefined || keyMatches(r, filter.key)) &&
          (filter.pathIncludes === undefined || r.path.includes(filter.pathIncludes)),
      ).length;
    },

    log(): CallRecord[] {
      return core.records.map((r) => ({ ...r }));
    },

    revokeKey(vendor: Vendor, key: string): void {
      core.revoked.add(`${vendor}\u0000${ruleKey(vendor, key)}`);
    },

    restoreKey(vendor: Vendor, key: string): void {
      core.revoked.delete(`${vendor}\u0000${ruleKey(vendor, key)}`);
    },

    setTiming(timing: Timing): void {
      core.timing = checkTiming(timing);
    },

    reset(): void {
      core.rules.clear();
      core.faults.clear();
      core.records.length = 0;
      core.limiter.clear();
      core.revoked.clear();
      core.charactersUsed.clear();
      for (const m of modules) m.reset?.();
    },

    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        core.shutdown();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return sandbox;
}
