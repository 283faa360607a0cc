import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  IAlarm,
  IMetric,
  LogQueryWidget,
  Metric,
  Stats,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { COLD_START_METRIC } from '../names';
import { ProviderMetrics } from '../provider-metrics';

export interface HealthDashboardProps {
  readonly function: IFunction;
  readonly logGroup: ILogGroup;
  readonly metrics: ProviderMetrics;
  readonly alarms: readonly IAlarm[];
  /** From the `"rotated"` metric filter, plotted beside the EMF rotations. */
  readonly rotatedLogLines?: Metric;
  /** @default 'nanobot' */
  readonly dashboardName?: string;
}

/** Logs Insights query listing the most recent key rotations. */
export const ROTATIONS_QUERY =
  'fields @timestamp, provider, reason, fromKey, toKey, retryAfterMs | filter @message like /rotated/ | sort @timestamp desc | limit 50';

/**
 * CloudWatch dashboard `nanobot`: per-provider traffic, success rate, 429s, rotations, upstream
 * latency, time to first byte and aborted streams, the admission queue (wait p95, requests that
 * waited, refusals), the function's own health, every alarm's state and the latest rotation log lines.
 */
export class HealthDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: HealthDashboardProps) {
    super(scope, id);
    const m = props.metrics;
    const graph = (
      title: string,
      left: IMetric[],
      extra: Partial<{ leftLabel: string; stacked: boolean; width: number; max: number }> = {},
    ) =>
      new GraphWidget({
        title,
        left,
        width: extra.width ?? 6,
        height: 6,
        stacked: extra.stacked ?? false,
        leftYAxis: { min: 0, max: extra.max, label: extra.leftLabel, showUnits: false },
      });

    const fn = props.function;
    const coldStarts = new Metric({
      namespace: m.namespace,
      metricName: COLD_START_METRIC,
      dimensionsMap: { service: m.serviceName, function_name: fn.functionName },
      statistic: Stats.SUM,
      period: m.period,
      label: 'cold starts',
    });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? 'nanobot',
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '## nanobot media gateway\nPer-provider counters are Powertools EMF metrics (namespace `Nanobot`, ' +
          'dimensions `service`, `provider`), 5-minute sums. Health window items: `aws dynamodb query ' +
          '--table-name nanobot-config` on `pk = PROVIDER_HEALTH#<provider>`.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Requests per provider', m.perProvider('Requests'), { leftLabel: 'requests / 5 min', stacked: true }),
      graph('Failures per provider', m.perProvider('Failures'), { leftLabel: 'failed requests / 5 min' }),
      graph(
        'Success rate per provider (%)',
        m.providers.map((p) => m.successRate(p)),
        { max: 100 },
      ),
      graph('Upstream 429s (RateLimited) per provider', m.perProvider('RateLimited'), { leftLabel: '429 attempts' }),
    );
    this.dashboard.addWidgets(
      graph(
        'Key rotations per provider',
        [
          ...m.perProvider('KeyRotations'),
          ...(props.rotatedLogLines ? [props.rotatedLogLines.with({ label: '"rotated" log lines (all)' })] : []),
        ],
        { leftLabel: 'rotations / 5 min' },
      ),
      graph('Upstream latency p50 (ms)', m.perProvider('UpstreamLatency', Stats.p(50)), { leftLabel: 'ms' }),
      graph('Upstream latency p95 (ms)', m.perProvider('UpstreamLatency', Stats.p(95)), { leftLabel: 'ms' }),
      graph('Keys disabled / all keys exhausted', [
        m.total('KeysDisabled', 'keys disabled'),
        m.total('AllKeysExhausted', 'all keys exhausted'),
      ]),
    );
    // Time to first byte is what a client waits for; a streamed answer's duration is its length.
    const ttfb = m.providers.flatMap((p) => [
      m.metric('TimeToFirstByte', p, Stats.p(50)).with({ label: `${p} p50` }),
      m.metric('TimeToFirstByte', p, Stats.p(95)).with({ label: `${p} p95` }),
    ]);
    this.dashboard.addWidgets(
      graph('Time to first byte p50 / p95 per provider (ms)', ttfb, { leftLabel: 'ms', width: 8 }),
      graph('Streams aborted after the first byte', m.perProvider('StreamAborted'), { leftLabel: 'aborted / 5 min', width: 8 }),
      graph('Fallbacks (on the provider that could not serve)', m.perProvider('Fallbacks'), { leftLabel: 'fallbacks / 5 min', width: 8 }),
    );
    // The admission queue: how long requests wait for a key with room, how many wait, how many it refuses at once.
    const queueWait = m.providers.map((p) => m.metric('QueueWait', p, Stats.p(95)).with({ label: `${p} p95` }));
    this.dashboard.addWidgets(
      graph('Admission queue wait p95 per provider (ms)', queueWait, { leftLabel: 'ms', width: 8 }),
      graph('Requests that waited in the admission queue', m.perProvider('QueueWait', Stats.SAMPLE_COUNT), { leftLabel: 'waited / 5 min', width: 8 }),
      graph('Refused at once by the admission queue (429)', m.perProvider('QueueRefused'), { leftLabel: 'refused / 5 min', width: 8 }),
    );
    this.dashboard.addWidgets(
      graph(
        'Function invocations, errors, throttles, cold starts',
        [
          fn.metricInvocations({ period: m.period, statistic: Stats.SUM }),
          fn.metricErrors({ period: m.period, statistic: Stats.SUM }),
          fn.metricThrottles({ period: m.period, statistic: Stats.SUM }),
          coldStarts,
        ],
        { width: 12 },
      ),
      graph(
        'Function duration p50 / p95 (ms)',
        [
          fn.metricDuration({ period: m.period, statistic: Stats.p(50), label: 'p50' }),
          fn.metricDuration({ period: m.period, statistic: Stats.p(95), label: 'p95' }),
        ],
        { width: 12 },
      ),
    );
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Recent key rotations ("rotated" log lines)',
        logGroupNames: [props.logGroup.logGroupName],
        queryString: ROTATIONS_QUERY,
        width: 24,
        height: 8,
      }),
    );
  }
}
