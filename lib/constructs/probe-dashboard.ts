import { Dashboard, GraphWidget, IMetric, LogQueryWidget, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { ProbeMetrics } from '../probe-metrics';

/** Logs Insights query listing the latest key-probe state changes. */
export const PROBE_CHANGES_QUERY =
  'fields @timestamp, message, vendor, key, result, state, httpStatus | filter message like /probe/ | sort @timestamp desc | limit 50';

/** A row of key-probe widgets on the `nanobot` dashboard: keys passing, failures, quota per key, the probe function, recent changes. */
export function addProbeWidgets(dashboard: Dashboard, props: { metrics: ProbeMetrics; probe: IFunction; logGroup: ILogGroup }): void {
  const m = props.metrics;
  const graph = (title: string, left: IMetric[], width = 6, max?: number) =>
    new GraphWidget({ title, left, width, height: 6, leftYAxis: { min: 0, max, showUnits: false } });
  const fn = props.probe;
  dashboard.addWidgets(
    graph('Keys passing probes per vendor', m.vendors.map((v) => m.keysPassing(v))),
    graph('Probe failures per vendor', m.vendors.map((v) => m.probeFailures(v))),
    graph('Quota used per key (%)', [m.quotaPerKey()], 6, 100),
    graph('Probe runs: invocations, errors, duration p95 (ms)', [
      fn.metricInvocations({ period: m.period, statistic: Stats.SUM }),
      fn.metricErrors({ period: m.period, statistic: Stats.SUM }),
      fn.metricDuration({ period: m.period, statistic: Stats.p(95) }),
    ]),
  );
  dashboard.addWidgets(
    new LogQueryWidget({
      title: 'Recent key-probe changes (one line per key per state change)',
      logGroupNames: [props.logGroup.logGroupName],
      queryString: PROBE_CHANGES_QUERY,
      width: 24,
      height: 6,
    }),
  );
}
