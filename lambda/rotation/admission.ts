import { KeyRoom, roomOf } from '../keys/room';
import { MIN_ATTEMPT_MS } from './decide';

/** The admission queue's settings (per vendor). */
export interface AdmissionSettings {
  /** Longest a request may wait in the queue for a key (a request header may only lower it). */
  maxQueueWaitMs: number;
  /** Waiters per vendor; a request arriving at a full queue is answered 429 at once. */
  maxQueueLength: number;
}

/** What the queue knows when a request asks to wait: pure data, read from the pool. */
export interface QueueView {
  /** Waiters already ahead of this request (all of the vendor's providers). */
  ahead: number;
  /** Keys that will take requests again, soonest first. */
  returns: readonly KeyReturn[];
  /** How long a key takes to come back again once spent (its window); used past the first wave. */
  cycleMs: number;
}

/** The request's own limits: its deadline (epoch ms) and, from `x-nanobot-max-wait-ms`, a lower wait bound. */
export interface WaitLimits {
  now: number;
  deadline: number;
  maxWaitMs?: number;
}

/**
 * A key coming back: in how long (a cooldown's end; 0 for a key busy now — a probe out, its
 * concurrency taken), and how many requests it then takes: its known budget or concurrency; 1 for
 * a key back from a cooldown with neither known (a probe first); unbounded for a probe out on a
 * key whose budget is unknown (if it answers, the rest follow).
 */
export interface KeyReturn {
  inMs: number;
  takes: number;
}

export type Admission =
  /** Join the queue; give up (429) after `giveUpMs` if not released by then. */
  | { kind: 'wait'; estimateMs: number; giveUpMs: number }
  /** Answer 429 now, with an honest Retry-After. */
  | { kind: 'refuse'; reason: 'queue_full' | 'wait_too_long'; retryAfterMs: number };

/**
 * When the waiter at `position` (0 = head) can start: returning keys are taken in order, each by
 * as many waiters as it `takes`; past the first wave every key comes back once per `cycleMs`.
 * Infinity when nothing will ever come back.
 */
export function startEstimate(q: Omit<QueueView, 'ahead'>, position: number): number {
  const perWave = q.returns.reduce((n, r) => n + Math.max(1, r.takes), 0);
  if (perWave === 0) return Number.POSITIVE_INFINITY;
  const wave = Number.isFinite(perWave) ? Math.floor(position / perWave) : 0;
  let left = Number.isFinite(perWave) ? position % perWave : position;
  for (const r of q.returns) {
    left -= Math.max(1, r.takes);
    if (left < 0) return Math.max(0, r.inMs) + wave * Math.max(1, q.cycleMs);
  }
  return Number.POSITIVE_INFINITY; // unreachable: `left` < perWave
}

/** How long this request may wait: the setting, lowered by its header and by its deadline. */
export function allowedWait(r: WaitLimits, settings: AdmissionSettings): number {
  const header = r.maxWaitMs === undefined ? Number.POSITIVE_INFINITY : Math.max(0, r.maxWaitMs);
  return Math.min(settings.maxQueueWaitMs, header, r.deadline - r.now - MIN_ATTEMPT_MS);
}

/**
 * Admit a request that found no usable key into the queue, or refuse it at once: the queue is
 * full, or its position and the release rate say it cannot start within its allowed wait.
 */
export function admit(q: QueueView, r: WaitLimits, settings: AdmissionSettings): Admission {
  const estimateMs = startEstimate(q, q.ahead);
  const retryAfterMs = Number.isFinite(estimateMs) ? estimateMs : settings.maxQueueWaitMs;
  if (q.ahead >= settings.maxQueueLength) return { kind: 'refuse', reason: 'queue_full', retryAfterMs };
  const giveUpMs = allowedWait(r, settings);
  if (estimateMs > giveUpMs) return { kind: 'refuse', reason: 'wait_too_long', retryAfterMs };
  return { kind: 'wait', estimateMs, giveUpMs };
}

/** How many waiters to release now: never more than the keys can take. */
export function releasable(keys: readonly KeyRoom[], waiting: number): number {
  let room = 0;
  for (const k of keys) room += roomOf(k);
  return Math.min(waiting, room);
}
