import { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC_NAMESPACE, PROBE_METRICS, SERVICE_NAME, VENDORS } from './names';

/**
 * CloudWatch views of the key probes' EMF metrics. Per vendor, dimensions exactly
 * `{ service, vendor }`; per key, `{ service, vendor, key }` — key ids are known only at run
 * time, so alarms read those through a Metrics Insights query (one series whatever the number of
 * keys), dashboards through SEARCH.
 */
export class ProbeMetrics {
  readonly vendors: readonly string[] = VENDORS;

  constructor(
    readonly period: Duration = Duration.minutes(5),
    readonly namespace = METRIC_NAMESPACE,
    readonly serviceName = SERVICE_NAME,
  ) {}

  /** Keys of a vendor whose last conclusive probe passed (Minimum over the period: the worst run). */
  keysPassing(vendor: string): Metric {
    return this.vendorMetric(PROBE_METRICS.keysPassingProbes, vendor, Stats.MINIMUM);
  }

  /** Probes of a vendor that did not pass (transient failures included), summed. */
  probeFailures(vendor: string): Metric {
    return this.vendorMetric(PROBE_METRICS.probeFailures, vendor, Stats.SUM);
  }

  /** The highest quota use of any key (%), over every vendor: a Metrics Insights query alarms accept. */
  maxKeyQuotaUsed(): MathExpression {
    return new MathExpression({
      expression: `SELECT MAX(${PROBE_METRICS.keyQuotaUsedPercent}) FROM SCHEMA("${this.namespace}", key, service, vendor)`,
      usingMetrics: {},
      period: this.period,
      label: 'highest key quota used (%)',
    });
  }

  /** One line per key on a graph (dashboards only: alarms refuse SEARCH). */
  quotaPerKey(): MathExpression {
    return new MathExpression({
      expression: `SEARCH('{${this.namespace},key,service,vendor} MetricName="${PROBE_METRICS.keyQuotaUsedPercent}"', 'Maximum', ${this.period.toSeconds()})`,
      usingMetrics: {},
      period: this.period,
      label: '',
    });
  }

  private vendorMetric(name: string, vendor: string, statistic: string): Metric {
    return new Metric({ namespace: this.namespace, metricName: name, dimensionsMap: { service: this.serviceName, vendor }, statistic, period: this.period, label: vendor });
  }
}
