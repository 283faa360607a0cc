import type { Clock, Outcome, ProviderId } from './types';
import type { RotationSettings } from '../config/env';
import type { KeyLease, KeyPool } from '../keys/key-pool';
import type { Log } from '../observability/logger';
import { MalformedAnswer, Operation, TransportError, sendUpstream } from '../providers/upstream';
import { overloadDelay } from './backoff';

/** Why a key was switched, as the `rotated` log line and the alarms name it. */
export type RotationReason = 'rate_limited' | 'quota_exhausted' | 'invalid_key' | 'provider_error';

export interface AttemptEvent {
  provider: ProviderId;
  keyId: string;
  outcome: Outcome | 'transport_error' | 'malformed_answer';
  status?: number;
  latencyMs: number;
}

export interface RotationEvent {
  provider: ProviderId;
  reason: RotationReason;
  fromKey: string;
  toKey: string;
  retryAfterMs?: number;
}

/** Per-request hooks for health recording and metrics; called synchronously, must not throw or block. */
export interface AttemptObserver {
  attempt?(e: AttemptEvent): void;
  rotation?(e: RotationEvent): void;
  keyDisabled?(e: { provider: ProviderId; keyId: string; reason: 'quota_exhausted' | 'invalid_key'; forMs: number }): void;
}

export interface RotationDeps {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  log: Log;
}

export type Failure =
  /** Every key is cooling for longer than we may wait. */
  | { kind: 'all_keys_cooling'; retryAfterMs: number }
  /** No key can be used: none configured or all disabled. */
  | { kind: 'no_usable_key' }
  /** The provider refused the request itself (other 4xx); `code` is a safe identifier when known. */
  | { kind: 'upstream_rejected'; code?: string; status: number }
  /** Attempts exhausted or no time left to retry a failing provider. */
  | { kind: 'upstream_failed'; code?: string }
  /** Sent, then no answer, and replaying could charge twice. */
  | { kind: 'outcome_unknown' }
  | { kind: 'deadline_exceeded' };

export type RotationResult<T> =
  | { ok: true; value: T; attempts: number; keyId: string }
  | { ok: false; failure: Failure; attempts: number };

/** Below this much remaining time, starting another upstream attempt is pointless. */
export const MIN_ATTEMPT_MS = 200;

/**
 * Runs one provider operation through its vendor's key pool inside a deadline (epoch ms).
 *
 * - rate limited → cool the key (provider's hint or a growing default) and retry at once on the next key;
 * - quota exhausted / invalid key → disable the key for the whole vendor and retry at once;
 * - overloaded / connection error / malformed answer → full-jitter backoff, then the next key;
 * - bad request → answer now, never retried;
 * - every key cooling → wait only if the earliest is back within `maxWaitMs`, else fail at once with
 *   its Retry-After; no usable key → fail at once.
 */
export async function withRotation<T>(
  provider: ProviderId,
  op: Operation<T>,
  pool: KeyPool,
  deadline: number,
  settings: RotationSettings,
  deps: RotationDeps,
  observer?: AttemptObserver,
): Promise<RotationResult<T>> {
  const { clock, log } = deps;
  let attempts = 0;
  let retries = 0;
  let waited = 0;
  let lastFailure: Failure = { kind: 'upstream_failed' };
  let lastWasRateLimit = false;
  let pending: { fromKey: string; reason: RotationReason; retryAfterMs?: number } | undefined;
  const fail = (failure: Failure): RotationResult<T> => ({ ok: false, failure, attempts });

  for (;;) {
    if (attempts >= settings.maxAttempts) {
      // Out of attempts on rate limits: that is backpressure, said honestly — 429 with the time
      // until a key can be tried — not "the provider failed".
      if (lastWasRateLimit) return fail({ kind: 'all_keys_cooling', retryAfterMs: pool.nextUsableInMs() ?? 0 });
      return fail(lastFailure);
    }
    const now = clock();
    if (deadline - now < MIN_ATTEMPT_MS) return fail(attempts > 0 ? lastFailure : { kind: 'deadline_exceeded' });

    const pick = pool.pick();
    if (pick.kind === 'none') return fail({ kind: 'no_usable_key' });
    if (pick.kind === 'wait') {
      // All the waiting one request may do, together, stays within maxWaitMs.
      if (waited + pick.waitMs <= settings.maxWaitMs && now + pick.waitMs + MIN_ATTEMPT_MS < deadline) {
        const ms = Math.max(1, pick.waitMs);
        waited += ms;
        await deps.sleep(ms);
        continue;
      }
      return fail({ kind: 'all_keys_cooling', retryAfterMs: pick.waitMs });
    }

    const lease = pick.lease;
    if (pending && pending.fromKey !== lease.id) {
      const e: RotationEvent = { provider, reason: pending.reason, fromKey: pending.fromKey, toKey: lease.id, retryAfterMs: pending.retryAfterMs };
      log.info('key rotated', { ...e });
      observer?.rotation?.(e);
    }
    attempts += 1;

    const started = clock();
    const step = await attempt(op, lease, deadline - started);
    const latencyMs = clock() - started;
    observer?.attempt?.({ provider, keyId: lease.id, outcome: step.outcome, status: step.status, latencyMs });
    // The attempt is over: if the key was a probe, another request may try it (marks below say more).
    pool.settle(lease);

    lastWasRateLimit = step.outcome === 'rate_limited';
    switch (step.outcome) {
      case 'ok':
        pool.markOk(lease);
        if (step.budgetSpentForMs) {
          const rest = pool.markBudgetSpent(lease, step.budgetSpentForMs);
          if (rest > 0) log.info('key resting: request budget spent', { provider, key: lease.id, restMs: rest });
        }
        return { ok: true, value: step.value as T, attempts, keyId: lease.id };
      case 'bad_request':
        return fail({ kind: 'upstream_rejected', code: step.code, status: step.status ?? 400 });
      case 'rate_limited': {
        const coolMs = pool.markRateLimited(lease, step.retryAfterMs);
        log.warn('key rate limited', { provider, key: lease.id, retryAfterMs: coolMs, hinted: step.retryAfterMs !== undefined });
        pending = { fromKey: lease.id, reason: 'rate_limited', retryAfterMs: coolMs };
        lastFailure = { kind: 'upstream_failed', code: step.code };
        continue;
      }
      case 'quota_exhausted':
      case 'invalid_key': {
        const forMs = pool.markDisabled(lease, step.outcome);
        log.warn('key disabled', { provider, key: lease.id, reason: step.outcome, reprobeInMs: forMs });
        observer?.keyDisabled?.({ provider, keyId: lease.id, reason: step.outcome, forMs });
        pending = { fromKey: lease.id, reason: step.outcome, retryAfterMs: forMs };
        lastFailure = { kind: 'upstream_failed', code: step.code };
        continue;
      }
      case 'transport_error':
        if (step.timedOut && clock() >= deadline - MIN_ATTEMPT_MS) return fail({ kind: 'deadline_exceeded' });
        if (step.sent && !op.replaySafe) return fail({ kind: 'outcome_unknown' });
        break;
      case 'malformed_answer':
        // A 2xx we cannot read may still have created something (a paid task): never replay that.
        if (!op.replaySafe) return fail({ kind: 'outcome_unknown' });
        break;
      case 'overloaded':
        break;
    }
    // Provider-side trouble: back off (full jitter, never sooner than a hint), then try the next key.
    lastFailure = { kind: 'upstream_failed', code: step.code };
    const delay = overloadDelay(retries, step.retryAfterMs, settings.backoffBaseMs, settings.backoffCapMs, deps.random);
    retries += 1;
    if (clock() + delay + MIN_ATTEMPT_MS >= deadline) return fail(lastFailure);
    log.warn('provider error, backing off', { provider, key: lease.id, status: step.status, code: step.code, backoffMs: delay });
    pending = { fromKey: lease.id, reason: 'provider_error', retryAfterMs: delay };
    if (delay > 0) await deps.sleep(delay);
  }
}

interface Step {
  outcome: AttemptEvent['outcome'];
  value?: unknown;
  status?: number;
  code?: string;
  retryAfterMs?: number;
  budgetSpentForMs?: number;
  sent?: boolean;
  timedOut?: boolean;
}

async function attempt<T>(op: Operation<T>, lease: KeyLease, budgetMs: number): Promise<Step> {
  let answer;
  try {
    answer = await sendUpstream(op.request(lease), budgetMs);
  } catch (err) {
    if (err instanceof TransportError) {
      return { outcome: 'transport_error', sent: err.sent, timedOut: err.timedOut, code: err.causeCode };
    }
    throw err;
  }
  // Wall time, not the injected clock: HTTP-date hints are wall-clock dates.
  const c = op.classify(answer, Date.now());
  if (c.outcome !== 'ok') return { outcome: c.outcome, status: answer.status, code: c.code, retryAfterMs: c.retryAfterMs };
  try {
    return { outcome: 'ok', value: op.decode(answer), status: answer.status, budgetSpentForMs: c.budgetSpentForMs };
  } catch (err) {
    if (err instanceof MalformedAnswer) return { outcome: 'malformed_answer', status: answer.status, code: 'malformed_answer' };
    throw err;
  }
}
