import type { KeyPool } from '../keys/key-pool';
import { admit, AdmissionSettings, allowedWait, releasable, startEstimate, WaitLimits } from './admission';

/** Timers, injectable (tests run on a fake clock). */
export interface QueueTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: QueueTimers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type QueueOutcome =
  | { kind: 'released'; waitedMs: number }
  | { kind: 'refused'; reason: 'queue_full' | 'wait_too_long' | 'gave_up' | 'disconnected'; retryAfterMs: number; waitedMs: number };

export interface WaitRequest extends Omit<WaitLimits, 'now'> {
  /** Aborted when the client goes away: the waiter leaves the queue. */
  signal?: AbortSignal;
  /** A released waiter that found no key after all keeps its place at the head. */
  front?: boolean;
}

interface Waiter {
  provider: string;
  at: number;
  finish(o: QueueOutcome): void;
}

/**
 * The admission queue of one vendor: requests that found no usable key wait here in arrival order
 * (FIFO across the vendor's providers) and are released when room returns — a cooling key's end
 * (one timer, at that instant), an attempt settling (a probe answered, budget or concurrency
 * freed) — never more than the keys' room (`roomOf`). A request that cannot start within its
 * allowed wait, or finds the queue full, is refused at once (`admit`). Holds only the waiters.
 */
export class AdmissionQueue {
  private waiters: Waiter[] = [];
  private timer: unknown;

  constructor(
    private readonly pool: KeyPool,
    private readonly settings: AdmissionSettings,
    private readonly clock: () => number,
    private readonly timers: QueueTimers = realTimers,
    /** The fleet's key state, applied before a timer releases waiters onto a key back from a cooldown (it may be cooling elsewhere). */
    private readonly beforeRelease?: () => Promise<void>,
  ) {
    pool.probeFresh();
    pool.onRoom(() => this.release());
  }

  get length(): number {
    return this.waiters.length;
  }

  /** Waiters for one provider of the vendor. */
  lengthOf(provider: string): number {
    let n = 0;
    for (const w of this.waiters) if (w.provider === provider) n += 1;
    return n;
  }

  wait(provider: string, r: WaitRequest): Promise<QueueOutcome> {
    const now = this.clock();
    const view = { ahead: r.front ? 0 : this.waiters.length, ...this.viewOf(provider) };
    const a = r.front ? { kind: 'wait' as const, giveUpMs: allowedWait({ ...r, now }, this.settings) } : admit(view, { ...r, now }, this.settings);
    if (a.kind === 'refuse') return Promise.resolve({ ...a, kind: 'refused', waitedMs: 0 });
    if (r.signal?.aborted) return Promise.resolve({ kind: 'refused', reason: 'disconnected', retryAfterMs: 0, waitedMs: 0 });
    return new Promise((resolve) => {
      const w: Waiter = { provider, at: now, finish: (o) => {
        this.timers.clear(giveUp);
        r.signal?.removeEventListener('abort', onAbort);
        resolve(o);
      } };
      const leave = (reason: 'gave_up' | 'disconnected') => {
        if (!this.remove(w)) return;
        const next = startEstimate(this.viewOf(provider), 0);
        w.finish({ kind: 'refused', reason, retryAfterMs: Number.isFinite(next) ? next : this.settings.maxQueueWaitMs, waitedMs: this.clock() - now });
      };
      const onAbort = () => leave('disconnected');
      const giveUp = this.timers.set(() => leave('gave_up'), Math.max(0, a.giveUpMs));
      r.signal?.addEventListener('abort', onAbort, { once: true });
      if (r.front) this.waiters.unshift(w);
      else this.waiters.push(w);
      this.release();
    });
  }

  /** Releases, in arrival order, as many waiters as each provider's keys have room for; then arms the one timer for the next key back. */
  release(): void {
    if (this.waiters.length === 0) return;
    const now = this.clock();
    const room = new Map<string, number>();
    const kept: Waiter[] = [];
    const out: Waiter[] = [];
    for (const w of this.waiters) {
      let left = room.get(w.provider);
      if (left === undefined) left = releasable(this.pool.rooms(w.provider), this.waiters.length);
      if (left > 0) out.push(w);
      else kept.push(w);
      room.set(w.provider, left - 1);
    }
    this.waiters = kept;
    this.arm();
    for (const w of out) w.finish({ kind: 'released', waitedMs: now - w.at });
  }

  private viewOf(provider: string) {
    return this.pool.returns(provider);
  }

  private arm(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    let soonest = Number.POSITIVE_INFINITY;
    for (const p of new Set(this.waiters.map((w) => w.provider))) {
      const back = this.pool.returns(p).returns.find((r) => r.inMs > 0)?.inMs;
      if (back !== undefined) soonest = Math.min(soonest, back);
    }
    if (Number.isFinite(soonest)) {
      this.timer = this.timers.set(() => {
        this.timer = undefined;
        const go = () => this.release();
        if (this.beforeRelease) void this.beforeRelease().then(go, go);
        else go();
      }, soonest);
    }
  }

  private remove(w: Waiter): boolean {
    const i = this.waiters.indexOf(w);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    return true;
  }
}
