import type { Clock, ProviderName } from '../domain';
import type { PoolCounts } from '../keys/key-lease';
import { Log, StoreFailureLog } from '../domain';
import { randomBytes } from 'node:crypto';
import { addInto, Counters } from './counters';
import type { ProbeSummary } from './probe-summary';
import type { HealthRecorder } from './recorder';
import { statusOf } from './status';
import type { HealthStore } from './store';

export interface FlushPolicy {
  /** At most one flush per this interval per container: this is what keeps writes per request low. */
  minIntervalMs: number;
  /** STATUS items are refreshed at most this often per provider per container. */
  statusIntervalMs: number;
  /** Provider-minutes kept while the store is unreachable; the oldest are dropped (and counted) past it. */
  maxPendingBuckets: number;
  /** Store errors are logged at most once per this interval (with a count of the rest). */
  errorLogIntervalMs: number;
  /** After failures, attempts back off exponentially up to this. */
  maxBackoffMs: number;
}

export const DEFAULT_FLUSH_POLICY: FlushPolicy = {
  minIntervalMs: 10_000,
  statusIntervalMs: 20_000,
  maxPendingBuckets: 2_000,
  errorLogIntervalMs: 60_000,
  maxBackoffMs: 5 * 60_000,
};

export interface FlushStats {
  flushes: number;
  bucketWrites: number;
  statusWrites: number;
  windowReads: number;
  errors: number;
  droppedBuckets: number;
}

/**
 * Moves recorded health to DynamoDB without touching a request's latency and without losing it:
 * coalesced (one UpdateItem per provider-minute per flush), rate-limited (one flush per
 * interval), kept and retried when the store fails (bounded; oldest dropped and counted), errors
 * logged once per interval. Never throws.
 */
export class HealthFlusher {
  /**
   * Per provider-minute: `frozen`, a delta already sent once with sequence `seq` (its outcome may
   * be unknown: it is re-sent with the same seq, which the store applies at most once), and
   * `open`, counts recorded since (sent with a new seq once the frozen one is settled).
   */
  private readonly pending = new Map<string, { provider: ProviderName; minute: string; frozen?: { delta: Counters; seq: number }; open?: Counters }>();
  private seq = 0;
  /** This writer's id in the store's idempotency attributes (one per container / process). */
  readonly writerId = randomBytes(6).toString('hex');
  private readonly lastStatusAt = new Map<ProviderName, number>();
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private nextAttemptAt = 0;
  private consecutiveFailures = 0;
  private readonly failures: StoreFailureLog;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  readonly stats: FlushStats = { flushes: 0, bucketWrites: 0, statusWrites: 0, windowReads: 0, errors: 0, droppedBuckets: 0 };

  constructor(
    private readonly recorder: HealthRecorder,
    private readonly store: HealthStore,
    /** A provider's key counts now, its latency objective, and what its vendor's key probes found. */
    private readonly about: (p: ProviderName) => { keys: PoolCounts; p95ObjectiveMs: number; probes?: ProbeSummary },
    private readonly log: Log,
    private readonly clock: Clock,
    private readonly policy: FlushPolicy = DEFAULT_FLUSH_POLICY,
  ) {
    this.failures = new StoreFailureLog(log, policy.errorLogIntervalMs, clock);
  }

  /** Whether a flush should run now: something to write, interval passed, not backing off. */
  due(): boolean {
    const now = this.clock();
    if (this.recorder.size === 0 && this.pending.size === 0) return false;
    return now - this.lastFlushAt >= this.policy.minIntervalMs && now >= this.nextAttemptAt;
  }

  /** Flushes if due (STATUS at its bounded rate); resolves when done, or at once. */
  flushIfDue(): Promise<void> {
    return this.due() ? this.start(false) : this.inFlight ?? Promise.resolve();
  }

  /**
   * Flushes now, STATUS included (shutdown, `/v1/health`, tests). Everything recorded before the
   * call is attempted: a caller arriving mid-flush gets one more flush after it. Never rejects.
   */
  flush(): Promise<void> {
    if (this.inFlight) {
      this.queued ??= this.inFlight.then(() => {
        this.queued = undefined;
        // The flush just before failed: the store is unreachable right now, and the data is
        // kept. Retrying at once would only make the caller wait a second time-out.
        if (this.consecutiveFailures > 0 && this.clock() < this.nextAttemptAt) return undefined;
        return this.start(true);
      });
      return this.queued;
    }
    return this.start(true);
  }

  private start(forceStatus: boolean): Promise<void> {
    this.inFlight ??= this.run(forceStatus).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Flushes anything pending unless the store is failing and we are backing off (then resolves at once). */
  flushUnlessBackingOff(): Promise<void> {
    if (this.recorder.size === 0 && this.pending.size === 0) return this.inFlight ?? Promise.resolve();
    return this.clock() >= this.nextAttemptAt ? this.flush() : Promise.resolve();
  }

  get pendingBuckets(): number {
    return this.pending.size + this.recorder.size;
  }

  private async run(forceStatus: boolean): Promise<void> {
    const now = this.clock();
    this.lastFlushAt = now;
    this.stats.flushes += 1;
    for (const d of this.recorder.drain()) {
      const key = `${d.provider}|${d.minute}`;
      const p = this.pending.get(key);
      if (!p) this.pending.set(key, { provider: d.provider, minute: d.minute, open: d.counters });
      else if (p.open) addInto(p.open, d.counters);
      else p.open = d.counters;
    }
    this.bound();
    const touched = new Set<ProviderName>();
    let failed = await this.writeBuckets(touched);
    failed ??= await this.writeStatuses(touched, forceStatus, now);
    if (failed) {
      this.stats.errors += 1;
      this.consecutiveFailures += 1;
      this.nextAttemptAt = now + Math.min(this.policy.maxBackoffMs, this.policy.minIntervalMs * 2 ** (this.consecutiveFailures - 1));
      this.logError(failed, now);
    } else {
      if (this.consecutiveFailures > 0) this.log.info('health store reachable again', { pendingBuckets: this.pending.size });
      this.consecutiveFailures = 0;
      this.nextAttemptAt = 0;
    }
  }

  /** Writes every pending bucket (one item's writes in sequence order; different items in parallel); the first error, if any. */
  private async writeBuckets(touched: Set<ProviderName>): Promise<unknown> {
    const results = await Promise.allSettled([...this.pending.entries()].map(async ([key, p]) => {
      for (;;) {
        if (!p.frozen) {
          if (!p.open) break;
          p.frozen = { delta: p.open, seq: ++this.seq };
          p.open = undefined;
        }
        await this.store.addBucket(p.provider, p.minute, p.frozen.delta, this.writerId, p.frozen.seq);
        this.stats.bucketWrites += 1;
        touched.add(p.provider);
        p.frozen = undefined;
      }
      if (!p.frozen && !p.open) this.pending.delete(key);
    }));
    return firstRejection(results);
  }

  /** Refreshes the STATUS item of each provider written to, when due; the first error, if any. */
  private async writeStatuses(touched: Set<ProviderName>, forceStatus: boolean, now: number): Promise<unknown> {
    const due = [...touched].filter((p) => forceStatus || now - (this.lastStatusAt.get(p) ?? Number.NEGATIVE_INFINITY) >= this.policy.statusIntervalMs);
    const results = await Promise.allSettled(due.map(async (provider) => {
      const window = await this.store.readWindow(provider, now);
      this.stats.windowReads += 1;
      const { keys, p95ObjectiveMs, probes } = this.about(provider);
      await this.store.putStatus(provider, statusOf(p95ObjectiveMs, window, keys, probes), now, keys);
      this.stats.statusWrites += 1;
      this.lastStatusAt.set(provider, now);
    }));
    return firstRejection(results);
  }

  /** Past the bound, the oldest minutes go first; the loss is counted and logged, never silent. */
  private bound(): void {
    const over = this.pending.size - this.policy.maxPendingBuckets;
    if (over <= 0) return;
    const oldest = [...this.pending.entries()].sort((a, b) => a[1].minute.localeCompare(b[1].minute)).slice(0, over);
    for (const [key] of oldest) this.pending.delete(key);
    this.stats.droppedBuckets += over;
    this.log.warn('health buckets dropped: store unreachable too long', { dropped: over, droppedTotal: this.stats.droppedBuckets });
  }

  private logError(err: unknown, now: number): void {
    this.failures.report('error', 'health store write failed; keeping counters in memory', err, {
      pendingBuckets: this.pending.size,
      retryInMs: this.nextAttemptAt - now,
    });
  }
}

function firstRejection(results: PromiseSettledResult<unknown>[]): unknown {
  for (const r of results) if (r.status === 'rejected') return r.reason ?? new Error('rejected');
  return undefined;
}
