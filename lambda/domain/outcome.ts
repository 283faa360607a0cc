import type { ProviderName } from './ids';

/**
 * What one upstream answer means for the key that was used (docs/providers.md, classification).
 * `key_forbidden`: a valid key refused access to this provider's operation (a 403, a missing scope,
 * a model its project lacks) — the key's problem for this provider, not the vendor's, not the request's.
 */
export type Outcome = 'ok' | 'rate_limited' | 'quota_exhausted' | 'invalid_key' | 'key_forbidden' | 'overloaded' | 'bad_request';

export interface Classification {
  outcome: Outcome;
  /** Wait the provider asked for (Retry-After and friends), when it said one. */
  retryAfterMs?: number;
  /**
   * On a success: the key's request budget is now spent (`x-ratelimit-remaining-requests: 0`) and
   * refills in this long. Resting the key now saves the 429 the next call would waste.
   */
  budgetSpentForMs?: number;
  /**
   * A short machine code safe to show a client (e.g. `voice_not_found`). Never free text from the
   * provider: upstream messages can echo key fragments.
   */
  code?: string;
}

/** Lower-cased response headers, as read off the wire. */
export type HeaderMap = Record<string, string>;

/** A raw upstream answer, handed to a vendor's pure classifier. */
export interface UpstreamAnswer {
  status: number;
  headers: HeaderMap;
  /** The body parsed as JSON when it was JSON, else its text (possibly empty). */
  body: unknown;
}

/** A vendor's pure classifier; `now` (epoch ms) resolves HTTP-date hints. */
export type Classifier = (answer: UpstreamAnswer, now: number) => Classification;

/** Why a request could not be served; the HTTP layer turns each kind into an answer. */
export type Failure =
  /** Every key is cooling for longer than we may wait. */
  | { kind: 'all_keys_cooling'; retryAfterMs: number }
  /** No key can be used: none configured or all disabled. */
  | { kind: 'no_usable_key' }
  /**
   * The provider refused the request itself (other 4xx), or every key was refused it the same way;
   * `code` is a safe identifier when known.
   */
  | { kind: 'upstream_rejected'; code?: string; status: number }
  /** Attempts exhausted or no time left to retry a failing provider. */
  | { kind: 'upstream_failed'; code?: string }
  /** Sent, then no answer, and replaying could charge twice. */
  | { kind: 'outcome_unknown' }
  | { kind: 'deadline_exceeded' };

/** The HTTP status each failure is answered with (the client's view, and what health records). */
export const FAILURE_STATUS: Record<Failure['kind'], number> = {
  all_keys_cooling: 429,
  no_usable_key: 503,
  upstream_rejected: 400,
  upstream_failed: 502,
  outcome_unknown: 502,
  deadline_exceeded: 504,
};

/** One request through the rotation loop; a success names the key that served it. */
export type RotationResult<T> =
  /** `finish`: a streamed answer's body ended — frees its key's concurrency slot (call once). */
  /** `poolRemaining`: requests left in the pool's known budgets after this one (OpenAI), when every usable key's is known. */
  | { ok: true; value: T; attempts: number; keyId: string; keyFingerprint: string; queuedMs?: number; finish?: () => void; poolRemaining?: number }
  | { ok: false; failure: Failure; attempts: number; queuedMs?: number };

/** What one client request amounted to, for health recording and metrics. */
export interface RequestSummary {
  provider: ProviderName;
  /** Served to the client (2xx). */
  served: boolean;
  status: number;
  /** End-to-end time in the gateway, rotations and waits included. */
  latencyMs: number;
  attempts: number;
  /** Upstream answers with HTTP 429 (rate limits, and quota or busy answers sent as 429). */
  rateLimited: number;
  rotations: number;
  keysDisabled: number;
  /** Refused because every key was cooling, or none was usable. */
  allKeysExhausted: boolean;
  /** Latency of each upstream attempt that answered. */
  upstreamLatencyMs: number[];
  /** When the request finished (epoch ms): for a streamed answer, when its last byte passed. */
  at: number;
  /** Time to the first byte of the answer (served requests; for an answer read whole, its latency). */
  ttfbMs?: number;
  /** A streamed answer that failed after its first byte (the client's response was aborted). */
  streamAborted?: boolean;
  /** Time spent in the vendor's admission queue (requests that queued). */
  queuedMs?: number;
  /** Answered 429 at once by the admission queue (queue full, or no start possible within the allowed wait). */
  queueRefused?: boolean;
  /**
   * The client went away while the request waited in the queue, before any attempt: it says
   * nothing about the provider, so health counts only its wait.
   */
  clientGone?: boolean;
}
