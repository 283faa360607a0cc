import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { PROBE_METRICS as M } from '../contracts';
import type { ProbeRunReport } from '../probes/run';

/**
 * A probe run as EMF metrics (namespace `Nanobot`): per vendor with keys, `KeysPassingProbes`
 * (keys whose last conclusive probe passed) and `ProbeFailures` (probes of this run that did not
 * pass, transient ones included), dimensions `{service, vendor}`; per key whose quota is visible,
 * `KeyQuotaUsedPercent`, dimensions `{service, vendor, key}`. Written synchronously.
 */
export function publishProbeMetrics(metrics: Metrics, r: ProbeRunReport): void {
  for (const v of r.vendors) {
    if (v.total === 0) continue;
    metrics.addDimension('vendor', v.vendor);
    metrics.addMetric(M.keysPassingProbes, MetricUnit.Count, v.items.filter((h) => h.state === 'ok').length);
    metrics.addMetric(M.probeFailures, MetricUnit.Count, v.keys.filter((k) => !k.passed).length);
    metrics.publishStoredMetrics();
    for (const k of v.keys) {
      if (k.quotaUsedPercent === undefined) continue;
      metrics.addDimension('vendor', v.vendor).addDimension('key', k.keyId);
      metrics.addMetric(M.keyQuotaUsedPercent, MetricUnit.Percent, k.quotaUsedPercent);
      metrics.publishStoredMetrics();
    }
  }
}
