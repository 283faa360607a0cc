import { BufferedOperation, discard, Failure, MalformedAnswer, OpenAnswer, Operation, RawAnswer, RotationResult, StreamedOperation, Transport, TransportError, withTimeout } from '../domain';
import type { KeyLease } from '../keys/key-lease';
import type { KeyPool } from '../keys/key-pool';
import { AttemptResult, decide, LoopState, RotationReason, RotationSettings, TakeOut } from './decide';
import type { RotationEvents } from './events';

export interface RotationDeps {
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  transport: Transport;
}

/**
 * Runs one provider operation through its vendor's key pool inside a deadline (epoch ms): asks
 * `decide` what to do after every step and does it — the pool marks, the waits, the events.
 */
export async function withRotation<T>(
  provider: string,
  op: Operation<T>,
  pool: KeyPool,
  deadline: number,
  settings: RotationSettings,
  deps: RotationDeps,
  events: RotationEvents = {},
): Promise<RotationResult<T>> {
  const s: LoopState = { now: 0, deadline, attempts: 0, retries: 0, waitedMs: 0, lastFailure: { kind: 'upstream_failed' }, lastWasRateLimit: false, everyKeyRefused: false, replaySafe: op.replaySafe };
  const fail = (failure: Failure): RotationResult<T> => ({ ok: false, failure, attempts: s.attempts });
  let pending: { fromKey: string; reason: RotationReason; retryAfterMs?: number } | undefined;
  for (;;) {
    s.now = deps.clock();
    let act = decide({ kind: 'next' }, s, settings);
    const pick = act.kind === 'pick' ? pool.pick(provider) : undefined;
    if (pick) act = decide({ kind: 'picked', pick }, s, settings);
    if (act.kind === 'fail') return fail(act.failure);
    if (act.kind === 'fail_all_cooling') return fail({ kind: 'all_keys_cooling', retryAfterMs: pool.nextUsableInMs(provider) ?? 0 });
    if (act.kind === 'wait') {
      s.waitedMs += act.ms;
      await deps.sleep(act.ms);
      continue;
    }
    if (pick?.kind !== 'key') return fail(s.lastFailure); // unreachable: `decide` attempts only with a key
    const lease = pick.lease;
    if (pending && pending.fromKey !== lease.id) events.rotated?.({ provider, ...pending, toKey: lease.id });
    s.attempts += 1;
    const started = deps.clock();
    const step = await attempt(op, lease, deadline - started, deps.transport);
    const r = step.result;
    events.attempt?.({ provider, keyId: lease.id, outcome: r.kind === 'answer' ? r.outcome : r.kind, status: r.kind === 'transport_error' ? undefined : r.status, latencyMs: deps.clock() - started, ...(r.kind === 'transport_error' ? { code: r.code } : {}) });
    // The attempt is over: if the key was a probe, another request may try it (marks below say more).
    pool.settle(lease);
    s.now = deps.clock();
    s.lastWasRateLimit = r.kind === 'answer' && r.outcome === 'rate_limited';
    const next = decide({ kind: 'attempted', result: r, jitter: deps.random() }, s, settings);
    if (next.kind === 'answer') return served(pool, lease, step, s.attempts, provider, events);
    if (next.kind !== 'switch_key' && next.kind !== 'back_off') return next.kind === 'fail' ? fail(next.failure) : fail(s.lastFailure);
    s.lastFailure = next.failure;
    if (next.kind === 'switch_key') {
      ({ pending, everyKeyRefused: s.everyKeyRefused } = takeOut(pool, lease, next, provider, events));
      continue;
    }
    s.retries += 1;
    events.backoff?.({ provider, keyId: lease.id, status: r.kind === 'transport_error' ? undefined : r.status, code: next.failure.kind === 'upstream_failed' ? next.failure.code : undefined, backoffMs: next.ms });
    pending = { fromKey: lease.id, reason: 'provider_error', retryAfterMs: next.ms };
    await deps.sleep(next.ms);
  }
}

function served<T>(pool: KeyPool, lease: KeyLease, step: Step<T>, attempts: number, provider: string, events: RotationEvents): RotationResult<T> {
  pool.markOk(lease, provider);
  if (step.budgetSpentForMs) {
    const restMs = pool.markBudgetSpent(lease, step.budgetSpentForMs);
    if (restMs > 0) events.keyResting?.({ provider, keyId: lease.id, restMs });
  }
  return { ok: true, value: step.value as T, attempts, keyId: lease.id, keyFingerprint: lease.fingerprint };
}

/**
 * Cools or disables the key, or keeps it out of this provider; returns the `rotated` event to
 * report when the next key is picked, and whether every key has now been refused the same way.
 */
function takeOut(pool: KeyPool, lease: KeyLease, act: { mark: TakeOut; retryAfterMs?: number; failure: Failure }, provider: string, events: RotationEvents) {
  const { mark, retryAfterMs: hintMs, failure } = act;
  const out = (retryAfterMs: number, everyKeyRefused = false) => ({ pending: { fromKey: lease.id, reason: mark, retryAfterMs }, everyKeyRefused });
  if (mark === 'rate_limited') {
    const retryAfterMs = pool.markRateLimited(lease, hintMs);
    events.keyCooling?.({ provider, keyId: lease.id, retryAfterMs, hinted: hintMs !== undefined });
    return out(retryAfterMs);
  }
  if (mark === 'key_forbidden') {
    // The refusal, as `decide` reported it: keys refused in different ways are the keys' fault.
    const { status, code } = failure.kind === 'upstream_rejected' ? failure : { status: 0, code: undefined };
    const { forMs, everyKey } = pool.markForbidden(lease, provider, `${status}:${code ?? ''}`);
    if (everyKey) events.everyKeyRefused?.({ provider, status, code });
    else events.keyDisabled?.({ provider, keyId: lease.id, reason: mark, forMs });
    return out(forMs, everyKey);
  }
  const forMs = pool.markDisabled(lease, mark);
  events.keyDisabled?.({ provider, keyId: lease.id, reason: mark, forMs });
  return out(forMs);
}

interface Step<T> {
  result: AttemptResult;
  value?: T;
  budgetSpentForMs?: number;
}

async function attempt<T>(op: Operation<T>, lease: KeyLease, budgetMs: number, transport: Transport): Promise<Step<T>> {
  const startedAt = Date.now();
  let answer: RawAnswer | OpenAnswer;
  try {
    const req = await op.request(lease);
    answer = 'relay' in op ? await transport.open(req, budgetMs) : await transport.send(req, budgetMs);
  } catch (err) {
    if (err instanceof TransportError) return { result: { kind: 'transport_error', sent: err.sent, timedOut: err.timedOut, code: err.causeCode } };
    throw err;
  }
  const open = 'raw' in answer ? undefined : answer;
  // Wall time, not the injected clock: HTTP-date hints are wall-clock dates. A streaming 2xx is
  // classified on its status and headers.
  const c = op.classify(open ? { status: open.status, headers: open.headers, body: '' } : (answer as RawAnswer), Date.now());
  const result: AttemptResult = { kind: 'answer', outcome: c.outcome, status: answer.status, code: c.code, retryAfterMs: c.retryAfterMs };
  if (c.outcome !== 'ok') {
    if (open) discard(open.body);
    return { result };
  }
  try {
    const value = open && 'relay' in op ? await firstChunkInTime(op, open, startedAt + budgetMs) : (op as BufferedOperation<T>).decode(answer as RawAnswer);
    return { result, value, budgetSpentForMs: c.budgetSpentForMs };
  } catch (err) {
    if (open) discard(open.body);
    if (err instanceof MalformedAnswer) return { result: { kind: 'malformed_answer', status: answer.status } };
    if (err instanceof TransportError) return { result: { kind: 'transport_error', sent: true, timedOut: err.timedOut, code: err.causeCode } };
    // The body failed before its first chunk (reset, idle timeout): sent, no usable answer.
    return { result: { kind: 'transport_error', sent: true, timedOut: false, code: 'body_failed' } };
  }
}

/** The request deadline bounds the time to the first byte: a relay still waiting for it at the deadline is a time-out. */
async function firstChunkInTime<T>(op: StreamedOperation<T>, open: OpenAnswer, deadline: number): Promise<T> {
  const late = Symbol('late');
  const value = await withTimeout(op.relay(open), deadline - Date.now(), () => late);
  if (value === late) {
    discard(open.body);
    throw new TransportError(true, true, 'timeout');
  }
  return value as T;
}
