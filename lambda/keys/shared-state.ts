import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Clock, Log, StoreFailureLog, VendorId } from '../domain';
import { reenableInFleet } from './fleet-reenable';
import type { KeyLease, KeyStateChange } from './key-lease';
import type { KeyPools } from './pools';

export interface SharingPolicy {
  /** A vendor's fleet view is refreshed at most this often per instance. */
  refreshIntervalMs: number;
  /** The most a request waits on a key-state read; past it, the read goes on in the background. */
  waitBudgetMs: number;
  /** Cold start: the one bounded read of every vendor's state. */
  coldStartBudgetMs: number;
  /** Errors are logged at most once per this interval. */
  errorLogIntervalMs: number;
  /**
   * Refresh ahead: for this long after a request on a vendor, its view is re-read in the
   * background every half refresh interval, so the next request finds it fresh and does not wait
   * (0: off — every refresh is on a request's path). Lambda freezes the timer between invocations.
   */
  refreshAheadMs: number;
}

export const DEFAULT_SHARING_POLICY: SharingPolicy = {
  refreshIntervalMs: 1_000,
  waitBudgetMs: 20,
  coldStartBudgetMs: 300,
  errorLogIntervalMs: 60_000,
  refreshAheadMs: 5_000,
};

export interface SharingStats {
  /** Reads on a request's path (refreshes), and the cold start's. */
  reads: number;
  coldStartReads: number;
  writes: number;
  /** Conditional writes refused because the fleet already had a later deadline. */
  writesSuperseded: number;
  errors: number;
  applied: number;
  /** Reads a request stopped waiting for (budget exceeded). */
  budgetExceeded: number;
  /** Reads done ahead, in the background, while a vendor had recent requests. */
  aheadReads: number;
  /** Requests that found their vendor's view fresh and went on without a read. */
  fresh: number;
}

export const keyStatePk = (v: VendorId) => `KEY_STATE#${v}`;

/**
 * Fleet-wide key state through DynamoDB: each instance publishes the cooldowns and disables it
 * learns from provider answers (`pk=KEY_STATE#<vendor>`, `sk=<key fingerprint>`; a conditional
 * write only ever extends a deadline) and refreshes its view of a vendor at most once a second,
 * waiting for that read at most `waitBudgetMs`. Keys are named by fingerprint, not by position,
 * because instances may hold differently ordered lists while a secret changes. Any failure falls
 * back to local knowledge.
 */
export class SharedKeyState {
  private readonly lastRead = new Map<VendorId, number>();
  private readonly reading = new Map<VendorId, Promise<void>>();
  private readonly writes = new Set<Promise<void>>();
  private readonly failures: StoreFailureLog;
  readonly stats: SharingStats = { reads: 0, coldStartReads: 0, writes: 0, writesSuperseded: 0, errors: 0, applied: 0, budgetExceeded: 0, aheadReads: 0, fresh: 0 };
  /** Vendors with a recent request, and until when their view is kept fresh ahead of the next. */
  private readonly activeUntil = new Map<VendorId, number>();
  private aheadTimer?: NodeJS.Timeout;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly pools: KeyPools,
    log: Log,
    private readonly clock: Clock,
    private readonly policy: SharingPolicy = DEFAULT_SHARING_POLICY,
  ) {
    this.failures = new StoreFailureLog(log, policy.errorLogIntervalMs, clock);
    pools.onChange(this.publish);
  }

  /** Publishes what a provider answer taught any pool (started at once, awaited post-response). */
  private readonly publish = (c: KeyStateChange): void => {
    const p = this.write(c).finally(() => this.writes.delete(p));
    this.writes.add(p);
  };

  /** Before a request on a vendor: refresh its view if stale, waiting at most the budget. */
  async beforeRequest(vendor: VendorId): Promise<void> {
    const now = this.clock();
    this.keepFresh(vendor, now);
    if (now - (this.lastRead.get(vendor) ?? Number.NEGATIVE_INFINITY) < this.policy.refreshIntervalMs && !this.reading.has(vendor)) {
      this.stats.fresh += 1;
      return;
    }
    const read = this.refresh(vendor);
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), this.policy.waitBudgetMs);
    });
    const first = await Promise.race([read.then(() => 'done' as const), budget]);
    clearTimeout(timer);
    if (first === 'late') this.stats.budgetExceeded += 1;
  }

  /** Stops refreshing ahead (the instance is closing). */
  stop(): void {
    clearInterval(this.aheadTimer);
    this.aheadTimer = undefined;
    this.activeUntil.clear();
  }

  private keepFresh(vendor: VendorId, now: number): void {
    const { refreshAheadMs, refreshIntervalMs } = this.policy;
    if (refreshAheadMs <= 0 || refreshIntervalMs <= 0) return;
    this.activeUntil.set(vendor, now + refreshAheadMs);
    if (this.aheadTimer) return;
    this.aheadTimer = setInterval(() => this.refreshAhead(), Math.max(10, refreshIntervalMs / 2));
    this.aheadTimer.unref();
  }

  /** Re-reads each recently used vendor whose view is half an interval old; stops when none is in use. */
  private refreshAhead(): void {
    const now = this.clock();
    for (const [vendor, until] of this.activeUntil) {
      if (until < now) this.activeUntil.delete(vendor);
      else if (!this.reading.has(vendor) && now - (this.lastRead.get(vendor) ?? 0) >= this.policy.refreshIntervalMs / 2) {
        this.stats.aheadReads += 1;
        void this.refresh(vendor);
      }
    }
    if (this.activeUntil.size === 0) this.stop();
  }

  /** A full read of one vendor's fleet state, however long it takes (the key probe's start). */
  refreshVendor(vendor: VendorId): Promise<void> {
    return this.refresh(vendor);
  }

  /**
   * A probe that started at `asOf` proved a disabled key works: lift every disable the fleet
   * learnt before then (a newer one stands), here and — through the item's `enabledAt` — in every
   * instance at its next refresh. Returns whether the fleet took it.
   */
  async reenable(vendor: VendorId, lease: KeyLease, asOf: number): Promise<boolean> {
    this.pools.get(vendor).reenable(lease.fingerprint, asOf);
    try {
      const taken = await reenableInFleet(this.ddb, this.table, { pk: keyStatePk(vendor), lease, asOf, now: this.clock() });
      if (taken) this.stats.writes += 1;
      else this.stats.writesSuperseded += 1;
      return taken;
    } catch (err) {
      this.fail('write', err);
      return false;
    }
  }

  /** Cold start: every vendor's state in one bounded round of reads. */
  async loadAll(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.pools.vendors().filter((v) => this.pools.get(v).size > 0).map((v) => this.refresh(v, true))),
      new Promise<void>((r) => {
        timer = setTimeout(r, this.policy.coldStartBudgetMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Waits for publications in flight (post-response, so none is left to a frozen environment). */
  async settle(): Promise<void> {
    await Promise.all([...this.writes]);
  }

  private refresh(vendor: VendorId, coldStart = false): Promise<void> {
    let p = this.reading.get(vendor);
    if (p) return p;
    this.lastRead.set(vendor, this.clock());
    p = this.read(vendor, coldStart).finally(() => this.reading.delete(vendor));
    this.reading.set(vendor, p);
    return p;
  }

  private async read(vendor: VendorId, coldStart: boolean): Promise<void> {
    try {
      const r = await this.ddb.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keyStatePk(vendor) },
      }));
      if (coldStart) this.stats.coldStartReads += 1;
      else this.stats.reads += 1;
      const pool = this.pools.get(vendor);
      for (const item of r.Items ?? []) {
        const fp = String(item.sk);
        const reason = typeof item.reason === 'string' ? item.reason : 'rate_limited';
        // A probe's re-enable first (it lifts disables learnt before it), then any newer disable.
        if (typeof item.enabledAt === 'number' && pool.reenable(fp, item.enabledAt)) this.stats.applied += 1;
        const since = typeof item.disabledAt === 'number' ? item.disabledAt : typeof item.updatedAt === 'number' ? item.updatedAt : undefined;
        if (typeof item.disabledUntil === 'number' && pool.applyExternalByFingerprint(fp, 'disabled', item.disabledUntil, reason === 'invalid_key' ? 'invalid_key' : 'quota_exhausted', since)) this.stats.applied += 1;
        if (typeof item.coolingUntil === 'number' && pool.applyExternalByFingerprint(fp, 'cooling', item.coolingUntil, 'rate_limited')) this.stats.applied += 1;
      }
    } catch (err) {
      this.fail('read', err);
    }
  }

  private async write(c: KeyStateChange): Promise<void> {
    const attr = c.state === 'cooling' ? 'coolingUntil' : 'disabledUntil';
    // A disable says when it was learnt, so a probe success that started later can lift it.
    const learnt = c.state === 'disabled' ? ', disabledAt = :now' : '';
    try {
      await this.ddb.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: keyStatePk(c.vendor), sk: c.lease.fingerprint },
        UpdateExpression: `SET #u = :u, #reason = :r, keyId = :id, updatedAt = :now, #ttl = :ttl${learnt}`,
        // Only ever extends: an instance with older news cannot shorten the fleet's deadline.
        ConditionExpression: 'attribute_not_exists(#u) OR #u < :u',
        ExpressionAttributeNames: { '#u': attr, '#reason': c.state === 'cooling' ? 'coolingReason' : 'reason', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':u': c.until, ':r': c.reason, ':id': c.lease.id, ':now': this.clock(), ':ttl': Math.ceil(c.until / 1000) + 3600 },
      }));
      this.stats.writes += 1;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        this.stats.writesSuperseded += 1;
        return;
      }
      this.fail('write', err);
    }
  }

  private fail(what: string, err: unknown): void {
    this.stats.errors += 1;
    this.failures.report('warn', `shared key state ${what} failed; using local knowledge`, err, { errorsSoFar: this.stats.errors });
  }
}
