import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, PROVIDER_METRICS as M, SERVICE_NAME } from '../contracts';
import type { RequestSummary, Telemetry } from '../domain';


/**
 * CloudWatch metrics via Powertools EMF: namespace `Nanobot`, dimensions exactly
 * `{service, provider}` (Powertools always adds `service`; the alarms use the same set).
 * One EMF line per request, written synchronously — there is no promise to lose at freeze.
 * Outside Lambda metrics are off unless POWERTOOLS_METRICS_DISABLED=false.
 */
export function createMetrics(): Metrics {
  process.env.POWERTOOLS_METRICS_DISABLED ??= process.env.AWS_LAMBDA_FUNCTION_NAME ? 'false' : 'true';
  return new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRIC_NAMESPACE, serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
}

export class MetricsTelemetry implements Telemetry {
  constructor(private readonly metrics: Metrics) {}

  requestDone(s: RequestSummary): void {
    const m = this.metrics;
    m.addDimension('provider', s.provider);
    if (s.queuedMs !== undefined) m.addMetric(M.queueWait, MetricUnit.Milliseconds, Math.round(s.queuedMs));
    if (s.queueRefused) m.addMetric(M.queueRefused, MetricUnit.Count, 1);
    // A client that left while queued: only its wait is a figure (it says nothing about the provider).
    if (s.clientGone) {
      if (s.queuedMs !== undefined || s.queueRefused) m.publishStoredMetrics();
      return;
    }
    m.addMetric(M.requests, MetricUnit.Count, 1);
    m.addMetric(M.successes, MetricUnit.Count, s.served ? 1 : 0);
    m.addMetric(M.failures, MetricUnit.Count, s.served ? 0 : 1);
    if (s.rateLimited > 0) m.addMetric(M.rateLimited, MetricUnit.Count, s.rateLimited);
    if (s.rotations > 0) m.addMetric(M.keyRotations, MetricUnit.Count, s.rotations);
    if (s.keysDisabled > 0) m.addMetric(M.keysDisabled, MetricUnit.Count, s.keysDisabled);
    if (s.allKeysExhausted) m.addMetric(M.allKeysExhausted, MetricUnit.Count, 1);
    for (const ms of s.upstreamLatencyMs) m.addMetric(M.upstreamLatency, MetricUnit.Milliseconds, Math.round(ms));
    if (s.ttfbMs !== undefined) m.addMetric(M.timeToFirstByte, MetricUnit.Milliseconds, Math.round(s.ttfbMs));
    if (s.streamAborted) m.addMetric(M.streamAborted, MetricUnit.Count, 1);
    m.publishStoredMetrics();
  }

  fellBack(provider: string): void {
    this.metrics.addDimension('provider', provider);
    this.metrics.addMetric(M.fallbacks, MetricUnit.Count, 1);
    this.metrics.publishStoredMetrics();
  }
}

/** Fans one request summary out to several sinks; a failing sink never affects the others or the request. */
export class TelemetryFanout implements Telemetry {
  constructor(private readonly sinks: Telemetry[], private readonly onError: (e: unknown) => void = () => undefined) {}
  requestDone(s: RequestSummary): void {
    for (const sink of this.sinks) {
      try {
        sink.requestDone(s);
      } catch (e) {
        this.onError(e);
      }
    }
  }
  fellBack(provider: string, at: number): void {
    for (const sink of this.sinks) {
      try {
        sink.fellBack?.(provider, at);
      } catch (e) {
        this.onError(e);
      }
    }
  }
}
