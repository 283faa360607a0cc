import { Duration } from 'aws-cdk-lib';
import { IMetric, MathExpression, Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC_NAMESPACE, PROVIDER_IDS, ProviderMetricName, SERVICE_NAME } from './names';

export interface ProviderMetricsOptions {
  readonly namespace?: string;
  readonly serviceName?: string;
  readonly providers?: readonly string[];
  /** @default 5 minutes */
  readonly period?: Duration;
}

/**
 * CloudWatch views of the gateway's EMF metrics, shared by alarms and dashboard.
 *
 * Powertools publishes each metric with dimensions exactly `{ service, provider }`, and CloudWatch
 * matches dimension sets exactly: a metric asked for with `{ provider }` alone, or with no
 * dimensions, has no data. Totals are therefore metric math over the six per-provider series
 * (alarms cannot use SEARCH expressions).
 */
export class ProviderMetrics {
  readonly namespace: string;
  readonly serviceName: string;
  readonly providers: readonly string[];
  readonly period: Duration;

  constructor(options: ProviderMetricsOptions = {}) {
    this.namespace = options.namespace ?? METRIC_NAMESPACE;
    this.serviceName = options.serviceName ?? SERVICE_NAME;
    this.providers = options.providers ?? PROVIDER_IDS;
    this.period = options.period ?? Duration.minutes(5);
  }

  /** One provider's series. Counts default to Sum (the CDK default, Average, is meaningless for counters). */
  metric(name: ProviderMetricName, provider: string, statistic: string = Stats.SUM): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName: name,
      dimensionsMap: { service: this.serviceName, provider },
      statistic,
      period: this.period,
      label: provider,
    });
  }

  /** Sum of a counter across every provider, per period. */
  total(name: ProviderMetricName, label = `${name} (all providers)`): MathExpression {
    const usingMetrics: Record<string, IMetric> = {};
    this.providers.forEach((provider, i) => {
      usingMetrics[`${idPart(name)}${i}`] = this.metric(name, provider);
    });
    return new MathExpression({
      expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label,
      period: this.period,
    });
  }

  /**
   * Failures / Requests for one provider, 0 while the provider has seen fewer than
   * `minRequests` requests in the period (so two failures out of three do not page anyone).
   * No request at all means no data point, which alarms treat as not breaching.
   */
  failureRatio(provider: string, minRequests: number): MathExpression {
    const p = idPart(provider);
    return new MathExpression({
      expression: `IF(req_${p} >= ${minRequests}, FILL(fail_${p}, 0) / req_${p}, 0)`,
      usingMetrics: {
        [`req_${p}`]: this.metric('Requests', provider),
        [`fail_${p}`]: this.metric('Failures', provider),
      },
      label: `${provider} failure ratio`,
      period: this.period,
    });
  }

  /** Successes / Requests × 100 for one provider. */
  successRate(provider: string): MathExpression {
    const p = idPart(provider);
    return new MathExpression({
      expression: `100 * FILL(ok_${p}, 0) / sreq_${p}`,
      usingMetrics: {
        [`sreq_${p}`]: this.metric('Requests', provider),
        [`ok_${p}`]: this.metric('Successes', provider),
      },
      label: provider,
      period: this.period,
    });
  }

  /** The same metric for every provider, e.g. one line each on a graph. */
  perProvider(name: ProviderMetricName, statistic: string = Stats.SUM): Metric[] {
    return this.providers.map((provider) => this.metric(name, provider, statistic));
  }
}

/** Metric-math ids: lower-case start, letters, digits and underscores only. */
function idPart(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, '_').replace(/^[^a-z]/, (c) => c.toLowerCase());
}
