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
  /**
   * Requests of this key that may be in flight at once on the routes that count (ElevenLabs TTS,
   * fal sync). One more gets the vendor's 429 concurrency answer at once. Ignored for OpenAI and Kling.
   */
  concurrency?: number;
  /** A valid key that may not do everything: missing scopes/permissions, models or apps it may not use. */
  restrict?: KeyRestriction;
  /** Account facts the probe routes report (and ElevenLabs' character quota, when set). */
  account?: AccountFacts;
}

/**
 * What a valid but restricted key may not do. Scope names are the vendors' own:
 * - OpenAI: `api.model.audio.request` (speech), `api.model.images.request` (images), `api.model.read` (GET /v1/models)
 * - ElevenLabs: `text_to_speech` (both TTS routes), `user_read` (GET /v1/user/subscription)
 * - fal: `billing:usage:read` (GET /v1/account/billing on the platform API)
 */
export interface KeyRestriction {
  missingScopes?: string[];
  /** HTTP status of the missing-scope answer. Default: 401 for OpenAI and ElevenLabs (what they are
   * seen to send), 403 for fal. */
  scopeStatus?: 401 | 403;
  /** OpenAI model ids, fal app ids (`fal-ai/flux/dev`) or Kling model_name values the key's
   * project/account may not use. */
  deniedModels?: string[];
  /** OpenAI only: 403 "Project `proj_…` does not have access to model `m`" (default, what OpenAI is seen
   * to send for a project without the model) or 404 "The model `m` does not exist or you do not have access to it.". */
  deniedModelStatus?: 403 | 404;
}

export interface AccountFacts {
  /** ElevenLabs subscription tier (default 'creator'). */
  tier?: string;
  /** ElevenLabs character_limit (default 100000). When set, TTS beyond it answers 401 quota_exceeded. */
  characterLimit?: number;
  /** fal credits.current_balance in USD (default 24.5; 0 for a key in state 'quota'). */
  creditBalance?: number;
  /** Kling resource pack remaining_quantity (default 118 of 200; 0 and 'runOut' for a key in state 'quota'). */
  remainingUnits?: number;
}

/** Narrows which calls a fault applies to (in addition to its kind's own rule). */
export interface FaultScope {
  /** Calls made so many times (default 1). */
  times?: number;
  /** Only calls by this key (Kling: the access key or `ACCESS:SECRET`). */
  key?: string;
  /** Only calls whose path (as in CallRecord.path) contains this. */
  pathIncludes?: string;
}

export type Fault = FaultScope &
  (
    | { kind: 'status'; status: number }
    | { kind: 'system_busy' }
    | { kind: 'concurrency' }
    | { kind: 'slow_headers'; delayMs: number }
    | { kind: 'slow_body'; delayMs: number }
    | { kind: 'reset' }
    | { kind: 'malformed_json' }
    | { kind: 'truncated_audio' }
    /** Speech answers (OpenAI speech, ElevenLabs TTS) of exactly `bytes` bytes in the requested format;
     * OpenAI image answers whose JSON is about `bytes` long (the images padded, still valid PNGs). */
    | { kind: 'body_size'; bytes: number }
    /** A 200 answer whose socket is destroyed after `afterBytes` bytes of its body. */
    | { kind: 'midstream_reset'; afterBytes: number }
    /**
     * An error answer whose every vendor-controlled field (and the vendor's request-id header) is `text`.
     * `text` may use {key} (the key as configured: OpenAI/ElevenLabs key, fal `id:secret`, Kling
     * `ACCESS:SECRET`), {key_head} (its first 8 characters), {key_tail} (its last 4), {secret} (fal and
     * Kling secret part) and {token} (the credential sent: Kling's JWT). Default text `{key}`, status 500.
     * A Kling task query that takes it answers 200 with the task `failed` and task_status_msg = text.
     */
    | { kind: 'echo'; text?: string; status?: number }
  );

export type Timing = 'fast' | 'realistic';

export interface RealisticTiming {
  /** Delay before the first audio byte (and the headers) of a speech answer. Default 300. */
  firstByteMs?: number;
  /** How much faster than real time the rest of the audio is sent. Default 6. */
  speedup?: number;
}

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
  /** Speech answers: 'fast' (default; no artificial delay) or 'realistic' (first audio after
   * `realisticTiming.firstByteMs`, the rest paced `speedup`× faster than real time). Default: the
   * SANDBOX_TIMING environment variable, else 'fast'. */
  timing?: Timing;
  realisticTiming?: RealisticTiming;
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
  /** Wall-clock (Date.now(), whatever the `now` option) times of this call: received, first body byte
   * written (or headers, for an empty body), last body byte written. */
  startedAt?: number;
  firstByteAt?: number;
  lastByteAt?: number;
  /** Body bytes written to the socket. */
  bytesSent?: number;
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
  /** fal's platform API (like https://api.fal.ai/v1): account billing. */
  falPlatform: string;
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
  /** Revoke a key at runtime (401 on every route, like a key deleted in the vendor's console) until restoreKey. Keeps its rule. */
  revokeKey(vendor: Vendor, key: string): void;
  restoreKey(vendor: Vendor, key: string): void;
  /** Switch speech timing at runtime. */
  setTiming(timing: Timing): void;
  reset(): void;
  close(): Promise<void>;
}
