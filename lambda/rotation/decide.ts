import type { Failure, Outcome } from '../domain';
import type { Pick } from '../keys/key-lease';
import { overloadDelay } from './backoff';

/** Below this much remaining time, starting another upstream attempt is pointless. */
export const MIN_ATTEMPT_MS = 200;

export interface RotationSettings {
  /** Upper bound on a request's time budget; Lambda's remaining time minus `deadlineMarginMs` can only shorten it. */
  requestDeadlineMs: number;
  deadlineMarginMs: number;
  /** Upstream attempts per request, all keys together. */
  maxAttempts: number;
  /** When every key is cooling, wait for the earliest only if it is usable within this; else answer 429 at once. */
  maxWaitMs: number;
  /** Full-jitter exponential backoff for overloaded providers: base and cap. */
  backoffBaseMs: number;
  backoffCapMs: number;
}

/** What one attempt came to, as the loop reads it: a classified answer, or no usable answer. */
export type AttemptResult =
  | { kind: 'answer'; outcome: Outcome; status: number; code?: string; retryAfterMs?: number }
  | { kind: 'transport_error'; sent: boolean; timedOut: boolean; code: string }
  | { kind: 'malformed_answer'; status: number };

/** The loop's memory between steps (all it needs to decide; nothing else is read). */
export interface LoopState {
  now: number;
  /** Epoch ms. */
  deadline: number;
  attempts: number;
  /** Backoffs taken so far (grows the next one). */
  retries: number;
  /** Time spent waiting for cooling keys so far. */
  waitedMs: number;
  lastFailure: Failure;
  lastWasRateLimit: boolean;
  /** The pool said the last refusal made every key refused the same way: the request is at fault. */
  everyKeyRefused: boolean;
  replaySafe: boolean;
}

export type RotationReason = 'rate_limited' | 'quota_exhausted' | 'invalid_key' | 'key_forbidden' | 'provider_error';

/** Why a key is taken out: for the vendor (cooled, disabled) or for this provider only (`key_forbidden`). */
export type TakeOut = 'rate_limited' | 'quota_exhausted' | 'invalid_key' | 'key_forbidden';

export type Action =
  /** Ask the pool for a key. */
  | { kind: 'pick' }
  | { kind: 'attempt' }
  | { kind: 'answer' }
  /** Take the key out (cool or disable it, or keep it out of this provider) and try the next one at once. */
  | { kind: 'switch_key'; mark: TakeOut; retryAfterMs?: number; failure: Failure }
  | { kind: 'back_off'; ms: number; failure: Failure }
  /** Every key is cooling, one is back soon: wait that long, then pick again. */
  | { kind: 'wait'; ms: number }
  | { kind: 'fail'; failure: Failure }
  /** Attempts ran out on rate limits: 429 with the time until the pool's earliest key is back. */
  | { kind: 'fail_all_cooling' };

export type Input =
  /** About to start an attempt (nothing picked yet: a pick may claim a returning key's probe). */
  | { kind: 'next' }
  | { kind: 'picked'; pick: Pick }
  | { kind: 'attempted'; result: AttemptResult; jitter: number };

/**
 * The rotation loop's every decision, pure: given what just happened (the pool's pick, or an
 * attempt's result), the loop's state and the settings, what to do next.
 *
 * - rate limited → cool the key (provider's hint or a growing default) and retry at once on the next key;
 * - quota exhausted / invalid key → disable the key for the whole vendor and retry at once;
 * - key forbidden (refused access to this provider) → keep the key out of this provider and retry at
 *   once; when every key has been refused the same way, it is the request's fault: answer the refusal;
 * - overloaded / connection error / malformed answer → full-jitter backoff, then the next key;
 * - bad request → answer now, never retried;
 * - every key cooling → wait only if the earliest is back within `maxWaitMs`, else fail at once with
 *   its Retry-After; no usable key → fail at once;
 * - an attempt whose outcome is unknown is never replayed unless the operation is replay-safe.
 */
export function decide(input: Input, s: LoopState, settings: RotationSettings): Action {
  switch (input.kind) {
    case 'next':
      return beforePick(s, settings);
    case 'picked':
      return afterPick(input.pick, s, settings);
    case 'attempted':
      return afterAttempt(input.result, input.jitter, s, settings);
  }
}

function beforePick(s: LoopState, settings: RotationSettings): Action {
  if (s.everyKeyRefused) return { kind: 'fail', failure: s.lastFailure };
  if (s.attempts >= settings.maxAttempts) {
    // Out of attempts on rate limits: that is backpressure, said honestly — 429 with the time
    // until a key can be tried — not "the provider failed".
    return s.lastWasRateLimit ? { kind: 'fail_all_cooling' } : { kind: 'fail', failure: s.lastFailure };
  }
  if (s.deadline - s.now < MIN_ATTEMPT_MS) return { kind: 'fail', failure: s.attempts > 0 ? s.lastFailure : { kind: 'deadline_exceeded' } };
  return { kind: 'pick' };
}

function afterPick(pick: Pick, s: LoopState, settings: RotationSettings): Action {
  if (pick.kind === 'none') return { kind: 'fail', failure: { kind: 'no_usable_key' } };
  if (pick.kind === 'key') return { kind: 'attempt' };
  // All the waiting one request may do, together, stays within maxWaitMs.
  if (s.waitedMs + pick.waitMs <= settings.maxWaitMs && s.now + pick.waitMs + MIN_ATTEMPT_MS < s.deadline) {
    return { kind: 'wait', ms: Math.max(1, pick.waitMs) };
  }
  return { kind: 'fail', failure: { kind: 'all_keys_cooling', retryAfterMs: pick.waitMs } };
}

function afterAttempt(r: AttemptResult, jitter: number, s: LoopState, settings: RotationSettings): Action {
  const code = r.kind === 'answer' ? r.code : r.kind === 'transport_error' ? r.code : 'malformed_answer';
  const failed: Failure = { kind: 'upstream_failed', code };
  if (r.kind === 'answer') {
    switch (r.outcome) {
      case 'ok':
        return { kind: 'answer' };
      case 'bad_request':
        return { kind: 'fail', failure: { kind: 'upstream_rejected', code: r.code, status: r.status } };
      case 'rate_limited':
      case 'quota_exhausted':
      case 'invalid_key':
        return { kind: 'switch_key', mark: r.outcome, retryAfterMs: r.retryAfterMs, failure: failed };
      case 'key_forbidden':
        // If the keys run out on refusals, the refusal is the answer (as for a bad request).
        return { kind: 'switch_key', mark: 'key_forbidden', failure: { kind: 'upstream_rejected', code: r.code, status: r.status } };
      case 'overloaded':
        break;
    }
  } else if (r.kind === 'transport_error') {
    // An answer larger than we read whole would be as large from any key: no retry.
    if (r.code === 'answer_too_large') return { kind: 'fail', failure: failed };
    if (r.timedOut && s.now >= s.deadline - MIN_ATTEMPT_MS) return { kind: 'fail', failure: { kind: 'deadline_exceeded' } };
    if (r.sent && !s.replaySafe) return { kind: 'fail', failure: { kind: 'outcome_unknown' } };
  } else if (!s.replaySafe) {
    // A 2xx we cannot read may still have created something (a paid task): never replay that.
    return { kind: 'fail', failure: { kind: 'outcome_unknown' } };
  }
  // Provider-side trouble: back off (full jitter, never sooner than a hint), then try the next key.
  const hint = r.kind === 'answer' ? r.retryAfterMs : undefined;
  const ms = overloadDelay(s.retries, hint, settings.backoffBaseMs, settings.backoffCapMs, () => jitter);
  if (s.now + ms + MIN_ATTEMPT_MS >= s.deadline) return { kind: 'fail', failure: failed };
  return { kind: 'back_off', ms, failure: failed };
}
