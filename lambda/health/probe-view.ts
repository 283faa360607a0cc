import { Clock, Log, StoreFailureLog, VendorId } from '../domain';
import type { KeyHealth, KeyHealthStore } from './key-health';
import { ProbeSummary, summarizeProbes } from './probe-summary';

export interface ProbeViewPolicy {
  /** A vendor's items are re-read at most this often in the background (post-response). */
  refreshIntervalMs: number;
  /** Items whose last probe is older than this say nothing any more. */
  staleAfterMs: number;
  /** Quota use (%) from which a key counts as running out. */
  quotaWarnPercent: number;
}

/**
 * This instance's view of the `KEY_HEALTH#` items, for status: the health route reads it fresh;
 * health flushes read what is cached (refreshed post-response, at most once a minute per vendor),
 * so a STATUS item written with little traffic still says what the probes found.
 */
export class ProbeView {
  private readonly cache = new Map<VendorId, { at: number; items: KeyHealth[] }>();
  private readonly failures: StoreFailureLog;

  constructor(
    readonly store: KeyHealthStore,
    private readonly clock: Clock,
    log: Log,
    readonly policy: ProbeViewPolicy,
  ) {
    this.failures = new StoreFailureLog(log, 60_000, clock);
  }

  /** The vendor's items from the store now (remembered); throws when the store does. */
  async read(vendor: VendorId): Promise<KeyHealth[]> {
    const items = await this.store.read(vendor);
    this.remember(vendor, items);
    return items;
  }

  /** Items someone just read or wrote (the prober). */
  remember(vendor: VendorId, items: KeyHealth[]): void {
    this.cache.set(vendor, { at: this.clock(), items });
  }

  /** The cached items of a vendor (empty when never read). */
  items(vendor: VendorId): KeyHealth[] {
    return this.cache.get(vendor)?.items ?? [];
  }

  summary(vendor: VendorId, fingerprints?: readonly string[], items = this.items(vendor)): ProbeSummary | undefined {
    const { staleAfterMs, quotaWarnPercent } = this.policy;
    return summarizeProbes(items, { now: this.clock(), staleAfterMs, quotaWarnPercent, fingerprints });
  }

  /** Re-reads the vendors whose cache is due; never throws (a failure is logged once a minute). */
  async refreshIfDue(vendors: readonly VendorId[]): Promise<void> {
    const now = this.clock();
    const due = vendors.filter((v) => now - (this.cache.get(v)?.at ?? Number.NEGATIVE_INFINITY) >= this.policy.refreshIntervalMs);
    await Promise.all(due.map(async (v) => {
      // Marked first, so a failing store is asked once per interval, not after every request.
      this.cache.set(v, { at: now, items: this.items(v) });
      await this.read(v).catch((err: unknown) => this.failures.report('warn', 'key health read failed; status goes without probes', err));
    }));
  }
}
