/** Public types of the provider sandbox (re-exported by ./index). */

export type Vendor = 'openai' | 'elevenlabs' | 'fal' | 'kling';

export const VENDORS: readonly Vendor[] = ['openai', 'elevenlabs', 'fal', 'kling'];

/** Per-key request budget. The sandbox uses a SLIDING window: a call is admitted when fewer than
 * `calls` admitted calls of that key happened in the last `windowMs`. Rejected calls do not use budget. */
export interface RateLimit {
  calls: number;
  windowMs: number;
}

/**
 * How a 429 advertises the wait:
 * - seconds: `Retry-After: <int s>` (ceil, min 1)
 * - ms: `retry-after-ms: <int ms>`
 * - http-date: `Retry-After: <IMF-fixdate>`
 * - reset-header: only `x-ratelimit-reset-requests: <Go duration>` (e.g. "6m0s", "850ms")
 * - none: no hint at all
 * - absurd: `Retry-After: 999999`
 * OpenAI rate-limit 429s also carry `x-ratelimit-reset-requests` with every hint except 'none'.
 */
export type RetryHint = 'seconds' | 'ms' | 'http-date' | 'reset-header' | 'none' | 'absurd';

export interface KeyRule {
  /** invalid -> vendor's 401 invalid-key answer; quota -> vendor's quota-exhausted answer. */
  state?: 'ok' | 'invalid' | 'quota';
  /** Overrides the vendor default for this key. `null` is not accepted here: use a large limit. */
  rateLimit?: RateLimit;
  /** Default: 'seconds' for OpenAI, 'none' for ElevenLabs, fal and Kling. */
  retryHint?: RetryHint;
}

export type Fault =
  | { kind: 'status'; status: number; times?: number }
  | { kind: 'system_busy'; times?: number }
  | { kind: 'concurrency'; times?: number }
  | { kind: 'slow_headers'; delayMs: number; times?: number }
  | { kind: 'slow_body'; delayMs: number; times?: number }
  | { kind: 'reset'; times?: number }
  | { kind: 'malformed_json'; times?: number }
  | { kind: 'truncated_audio'; times?: number };

export interface SandboxOptions {
  /** 0 = ephemeral (default 0). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** null = unlimited. Defaults: openai 3/20 s, elevenlabs 3/20 s, fal 3/20 s, kling 2/30 s per key. */
  defaultRateLimit?: Partial<Record<Vendor, RateLimit | null>>;
  /** Default true: any syntactically plausible key is valid (Kling: the JWT must still verify). */
  acceptUnknownKeys?: boolean;
  /** How long async jobs (Kling tasks, fal queue requests) take to complete. Default 3000. */
  jobDurationMs?: number;
  /** Clock used for windows, job progression, timestamps and JWT checks. Default Date.now. */
  now?: () => number;
  /** Optional observer (an addition to the base API): called once per vendor API call when its answer is finished. */
  onCall?: (record: CallRecord) => void;
}

export interface CallRecord {
  vendor: Vendor;
  method: string;
  /** Path as the real provider would see it (sandbox prefix and query string removed), e.g. `/v1/audio/speech`. */
  path: string;
  /** Raw key sent (OpenAI bearer, xi-api-key, fal `id:secret`, Kling JWT `iss` = access key); '' if none. */
  key: string;
  /** HTTP status answered; 0 when the socket was destroyed (reset fault) or the client went away first. */
  status: number;
  at: number;
  /** Addition to the base API: the sandbox prefix the call came through ('/openai', '/elevenlabs', '/fal',
   * '/fal-queue', '/kling'), which tells fal sync calls from fal queue calls. */
  base?: string;
}

export interface CallFilter {
  vendor?: Vendor;
  key?: string;
  pathIncludes?: string;
}

export interface SandboxUrls {
  openai: string;
  elevenlabs: string;
  fal: string;
  falQueue: string;
  kling: string;
}

export interface Sandbox {
  readonly port: number;
  readonly urls: SandboxUrls;
  readonly defaultKeys: Record<Vendor, string[]>;
  configureKey(vendor: Vendor, key: string, rule: KeyRule): void;
  addKlingKey(entry: string): void;
  injectFaults(vendor: Vendor, faults: Fault[]): void;
  calls(filter?: CallFilter): number;
  log(): CallRecord[];
  reset(): void;
  close(): Promise<void>;
}
