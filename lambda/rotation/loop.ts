import { BufferedOperation, discard, Failure, MalformedAnswer, OpenAnswer, Operation, RawAnswer, RotationResult, StreamedOperation, Transport, TransportError, withTimeout } from '../domain';
import type { KeyLease } from '../keys/key-lease';
import type { KeyPool } from '../keys/key-pool';
import { AttemptResult, decide, LoopState, RotationReason, RotationSettings, TakeOut } from './decide';
import type { AdmissionQueue } from './admission-queue';
import type { RotationEvents } from './events';
import { roomHints, RoomHints } from './room-hints';

/** The vendor's admission queue, and this request's own wait limit and disconnect signal. */
export interface AdmissionTicket {
  queue: AdmissionQueue;
  /** From `x-nanobot-max-wait-ms`: may only lower the queue's MAX_QUEUE_WAIT_MS (0: prefer a fast 429). */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

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
  admission?: AdmissionTicket,
): Promise<RotationResult<T>> {
  const s: LoopState = { now: 0, deadline, attempts: 0, retries: 0, waitedMs: 0, lastFailure: { kind: 'upstream_failed' }, lastWasRateLimit: false, everyKeyRefused: false, replaySafe: op.replaySafe };
  const w = { queuedMs: 0, released: false };
  const q = () => (admission ? { queuedMs: w.queuedMs } : {});
  const left = () => {
    const n = pool.remaining(provider);
    return n === undefined ? {} : { poolRemaining: n };
  };
  const fail = (failure: Failure): RotationResult<T> => ({ ok: false, failure, attempts: s.attempts, ...q() });
  let pending: { fromKey: string; reason: RotationReason; retryAfterMs?: number } | undefined;
  for (;;) {
    const got = await pickStep({ provider, pool, deadline, settings, deps, events, admission }, s, w);
    if (got.kind === 'again') continue;
    if (got.kind === 'fail') return fail(got.failure);
    const lease = got.lease;
    if (pending && pending.fromKey !== lease.id) events.rotated?.({ provider, ...pending, toKey: lease.id });
    s.attempts += 1;
    const started = deps.clock();
    const step = await attempt(op, lease, deadline - started, deps.transport);
    const r = step.result;
    events.attempt?.({ provider, keyId: lease.id, outcome: r.kind === 'answer' ? r.outcome : r.kind, status: r.kind === 'transport_error' ? undefined : r.status, latencyMs: deps.clock() - started, ...(r.kind === 'transport_error' ? { code: r.code } : {}) });
    if (step.room) pool.noteRoom(lease, step.room);
    // The attempt is over: if the key was a probe, another request may try it (marks below say more).
    const streaming = 'relay' in op && r.kind === 'answer' && r.outcome === 'ok' && step.value !== undefined;
    pool.settle(lease, streaming);
    s.now = deps.clock();
    s.lastWasRateLimit = r.kind === 'answer' && r.outcome === 'rate_limited';
    const next = decide({ kind: 'attempted', result: r, jitter: deps.random() }, s, settings);
    if (next.kind === 'answer') return { ...served(pool, lease, step, s.attempts, provider, events), ...q(), ...left(), ...(streaming ? { finish: () => pool.finished(lease) } : {}) };
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

interface Ctx {
  provider: string;
  pool: KeyPool;
  deadline: number;
  settings: RotationSettings;
  deps: RotationDeps;
  events: RotationEvents;
  admission?: AdmissionTicket;
}

/** Asks `decide`, picks a key (or waits: in the admission queue, else as `decide` says): a key to attempt, `again`, or the failure to answer. */
async function pickStep(c: Ctx, s: LoopState, w: { queuedMs: number; released: boolean }): Promise<{ kind: 'again' } | { kind: 'fail'; failure: Failure } | { kind: 'key'; lease: KeyLease }> {
  s.now = c.deps.clock();
  let act = decide({ kind: 'next' }, s, c.settings);
  // Waiters first: a newcomer queues behind them (FIFO); and it queues when no key has room.
  const joinQueue = act.kind === 'pick' && c.admission !== undefined && s.attempts === 0 && !w.released && c.admission.queue.length > 0;
  const pick = act.kind === 'pick' && !joinQueue ? c.pool.pick(c.provider) : undefined;
  if (c.admission && (joinQueue || pick?.kind === 'wait')) {
    const refused = await queued(c.provider, c.admission, c.deadline, w, c.events);
    return refused ? { kind: 'fail', failure: refused } : { kind: 'again' };
  }
  if (pick) act = decide({ kind: 'picked', pick }, s, c.settings);
  if (act.kind === 'fail') return { kind: 'fail', failure: act.failure };
  if (act.kind === 'fail_all_cooling') return { kind: 'fail', failure: { kind: 'all_keys_cooling', retryAfterMs: c.pool.nextUsableInMs(c.provider) ?? 0 } };
  if (act.kind === 'wait') {
    s.waitedMs += act.ms;
    await c.deps.sleep(act.ms);
    return { kind: 'again' };
  }
  // `decide` attempts only with a key.
  return pick?.kind === 'key' ? pick : { kind: 'fail', failure: s.lastFailure };
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

/**
 * One wait in the vendor's admission queue: undefined when released (pick again), else the
 * failure to answer (429 with Retry-After: refused at once, or given up at its allowed wait).
 */
async function queued(provider: string, a: AdmissionTicket, deadline: number, w: { queuedMs: number; released: boolean }, events: RotationEvents): Promise<Failure | undefined> {
  const o = await a.queue.wait(provider, { deadline, maxWaitMs: a.maxWaitMs === undefined ? undefined : a.maxWaitMs - w.queuedMs, signal: a.signal, front: w.released });
  w.queuedMs += o.waitedMs;
  events.queued?.({ provider, waitedMs: o.waitedMs, outcome: o.kind === 'released' ? 'released' : o.reason, retryAfterMs: o.kind === 'refused' ? o.retryAfterMs : undefined });
  if (o.kind === 'released') {
    w.released = true;
    return undefined;
  }
  return { kind: 'all_keys_cooling', retryAfterMs: o.retryAfterMs };
}

interface Step<T> {
  result: AttemptResult;
  room?: RoomHints;
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
  const room = roomHints(answer.headers);
  if (c.outcome !== 'ok') {
    if (open) discard(open.body);
    return { result, room };
  }
  try {
    const value = open && 'relay' in op ? await firstChunkInTime(op, open, startedAt + budgetMs) : (op as BufferedOperation<T>).decode(answer as RawAnswer);
    return { result, value, budgetSpentForMs: c.budgetSpentForMs, room };
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
