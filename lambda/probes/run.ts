import { errorFields, KeyProbe, VendorId, withTimeout } from '../domain';
import type { KeyHealth } from '../health/key-health';
import type { ProbeDeps, ProbeSettings } from './deps';
import { KeyProbeReport, probeKey } from './probe-key';

/** Below this much time left in the run, no new probe starts. */
const MIN_PROBE_MS = 500;

export interface ProbeTarget {
  vendor: VendorId;
  probe: KeyProbe;
}

export interface VendorProbeReport {
  vendor: VendorId;
  /** The keys configured. */
  total: number;
  keys: KeyProbeReport[];
  /** Keys not probed this run (the run's budget ran out first). */
  skipped: number;
  /** The vendor's KEY_HEALTH items after the run (probed keys' new ones, the others' previous ones). */
  items: KeyHealth[];
  storeErrors: number;
}

export interface ProbeRunReport {
  startedAt: number;
  durationMs: number;
  vendors: VendorProbeReport[];
  /** The run could not do its job: the store failed, or not one probe got an answer. */
  failed: boolean;
}

/**
 * Scheduled key probes: each run probes every configured key once with its vendor's free,
 * read-only call — vendors side by side, a vendor's keys one after another (never two calls of
 * one vendor at once, and at least the vendor's spacing apart), least recently probed first,
 * within a time budget. Runs never overlap: a run asked for while one is going joins it.
 */
export class ProbeRunner {
  private inFlight: Promise<ProbeRunReport> | undefined;
  /** When each vendor's last probe call started: the vendor's spacing holds across runs too. */
  private readonly lastStart = new Map<VendorId, number>();

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly deps: ProbeDeps,
    private readonly settings: ProbeSettings,
  ) {}

  run(): Promise<ProbeRunReport> {
    this.inFlight ??= this.runOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async runOnce(): Promise<ProbeRunReport> {
    const { clock } = this.deps;
    const startedAt = clock();
    const deadline = startedAt + this.settings.budgetMs;
    const vendors = await Promise.all(this.targets.map((t) => this.probeVendor(t, deadline)));
    // The disables this run made are published before the run ends (nothing left to a frozen Lambda).
    await withTimeout(this.deps.fleet?.settle() ?? Promise.resolve(), Math.max(1_000, deadline - clock()), () => undefined);
    const keys = vendors.flatMap((v) => v.keys);
    const storeErrors = vendors.reduce((n, v) => n + v.storeErrors, 0);
    const failed = storeErrors > 0 || (keys.length > 0 && keys.every((k) => k.transportError));
    return { startedAt, durationMs: clock() - startedAt, vendors, failed };
  }

  private async probeVendor({ vendor, probe }: ProbeTarget, deadline: number): Promise<VendorProbeReport> {
    const { deps } = this;
    const pool = deps.pools.get(vendor);
    const report: VendorProbeReport = { vendor, total: pool.size, keys: [], skipped: 0, items: [], storeErrors: 0 };
    if (pool.size === 0) return report;
    await withTimeout(deps.fleet?.refreshVendor(vendor) ?? Promise.resolve(), deadline - deps.clock(), () => undefined);
    const previous = await this.previous(vendor, report);
    const byFp = new Map(previous.map((h) => [h.fingerprint, h]));
    // Never probed first (NaN → -1), then the least recently probed.
    const lastAt = (fp: string) => Date.parse(byFp.get(fp)?.lastProbeAt ?? '') || -1;
    const order = pool.view().sort((a, b) => lastAt(a.fingerprint) - lastAt(b.fingerprint));
    for (const key of order) {
      const startAt = Math.max(deps.clock(), (this.lastStart.get(vendor) ?? Number.NEGATIVE_INFINITY) + probe.spacingMs);
      const lease = pool.leaseByFingerprint(key.fingerprint);
      if (!lease || deadline - startAt < MIN_PROBE_MS) {
        report.skipped += 1;
        continue;
      }
      if (startAt > deps.clock()) await deps.sleep(startAt - deps.clock());
      const started = deps.clock();
      this.lastStart.set(vendor, started);
      const { item, report: k } = await probeKey(vendor, probe, lease, Math.min(this.settings.timeoutMs, deadline - started), deps, byFp.get(key.fingerprint));
      report.keys.push(k);
      byFp.set(item.fingerprint, item);
      await deps.store.put(item, deps.clock()).catch((err: unknown) => this.storeFailed(report, 'write', err));
    }
    report.items = order.flatMap((k) => byFp.get(k.fingerprint) ?? []);
    return report;
  }

  private previous(vendor: VendorId, report: VendorProbeReport): Promise<KeyHealth[]> {
    return this.deps.store.read(vendor).catch((err: unknown) => {
      this.storeFailed(report, 'read', err);
      return [];
    });
  }

  private storeFailed(report: VendorProbeReport, what: string, err: unknown): void {
    report.storeErrors += 1;
    // One line per vendor per run at most (a run a minute): the first failure says it.
    if (report.storeErrors === 1) this.deps.log.warn(`key health ${what} failed`, { vendor: report.vendor, ...errorFields(err) });
  }
}
