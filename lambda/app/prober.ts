import type { Metrics } from '@aws-lambda-powertools/metrics';
import { Clock, errorFields, Log } from '../domain';
import type { GatewayConfig } from '../config/env';
import { statusOf } from '../health/status';
import { publishProbeMetrics } from '../observability/probe-metrics';
import { ProbeRunReport, ProbeRunner } from '../probes/run';
import { PROVIDERS, VENDOR_MODULES, vendorOf } from '../providers/registry';
import type { Runtime } from './runtime';

export interface ProberDeps {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  log: Log;
  /** EMF sink; none = no probe metrics. */
  metrics?: Metrics;
}

export interface Prober {
  /** One run over every configured key (joins a run already going); never throws. */
  run(): Promise<ProbeRunReport>;
}

/**
 * The key probes wired to a runtime: its pools and fleet key state (so what a probe learns acts
 * exactly like what a request learns), its transport and store. After each run: the vendors'
 * results into the runtime's probe view, the EMF metrics, and a fresh STATUS item for every
 * provider with keys — so status says what the probes found even when there is no traffic.
 */
export function createProber(rt: Runtime, config: GatewayConfig, deps: ProberDeps): Prober {
  const { clock } = deps;
  const targets = VENDOR_MODULES.map((m) => ({ vendor: m.id, probe: m.probe(config.baseUrls, clock) }));
  const runner = new ProbeRunner(
    targets,
    { pools: rt.pools, fleet: rt.keyState, store: rt.probeView.store, transport: rt.transport, clock, sleep: deps.sleep, log: deps.log },
    { timeoutMs: config.probes.timeoutMs, budgetMs: config.probes.runBudgetMs },
  );
  return {
    run: async () => {
      const report = await runner.run();
      for (const v of report.vendors) if (v.total > 0) rt.probeView.remember(v.vendor, v.items);
      if (deps.metrics) publishProbeMetrics(deps.metrics, report);
      const statusFailed = await writeStatuses(rt, report, deps);
      const done = { ...report, failed: report.failed || statusFailed };
      logRun(deps.log, done);
      return done;
    },
  };
}

/** STATUS of every provider whose vendor has keys, from its window, its pool and the probes; whether any write failed. */
async function writeStatuses(rt: Runtime, report: ProbeRunReport, { clock, log }: ProberDeps): Promise<boolean> {
  const now = clock();
  const probed = new Set(report.vendors.filter((v) => v.total > 0).map((v) => v.vendor));
  const results = await Promise.allSettled(PROVIDERS.filter((p) => probed.has(vendorOf(p.id))).map(async (p) => {
    const pool = rt.gateway.poolOf(p.id);
    const keys = pool.counts();
    const probes = rt.probeView.summary(vendorOf(p.id), pool.view().map((k) => k.fingerprint));
    const window = await rt.store.readWindow(p.id, now);
    await rt.store.putStatus(p.id, statusOf(p.p95ObjectiveMs, window, keys, probes), now, keys);
  }));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) log.warn('probe run: status write failed', errorFields(failed.reason));
  return failed !== undefined;
}

/** One line per run when something needs a look (failed, keys left over); quiet runs log at debug. */
function logRun(log: Log, r: ProbeRunReport): void {
  const keys = r.vendors.flatMap((v) => v.keys);
  const fields = {
    durationMs: r.durationMs,
    probed: keys.length,
    passed: keys.filter((k) => k.passed).length,
    skipped: r.vendors.reduce((n, v) => n + v.skipped, 0),
    failed: r.failed,
  };
  if (r.failed || fields.skipped > 0) log.warn('probe run incomplete', fields);
  else log.debug('probe run', fields);
}
