/**
 * Names the function's code and the infrastructure must agree on. The Lambda code owns the
 * behaviour (the provider ids come from lambda/core/types.ts); this file owns the physical names,
 * so an alarm or a dashboard can never silently point at a metric nobody emits.
 */

/** Powertools `service` dimension and log field (`POWERTOOLS_SERVICE_NAME`). */
export const SERVICE_NAME = 'nanobot';

/** CloudWatch namespace of the EMF metrics (`POWERTOOLS_METRICS_NAMESPACE`) and of the log metric filter. */
export const METRIC_NAMESPACE = 'Nanobot';

/** Every provider id: the `provider` dimension of each EMF metric (the runtime's own list). */
export { PROVIDERS as PROVIDER_IDS } from '../lambda/core/types';
export type { ProviderId } from '../lambda/core/types';

/** EMF metric names emitted per provider with dimensions exactly `{ service, provider }`. */
export const PROVIDER_METRICS = {
  requests: 'Requests',
  successes: 'Successes',
  failures: 'Failures',
  rateLimited: 'RateLimited',
  keyRotations: 'KeyRotations',
  keysDisabled: 'KeysDisabled',
  allKeysExhausted: 'AllKeysExhausted',
  upstreamLatency: 'UpstreamLatency',
} as const;
export type ProviderMetricName = (typeof PROVIDER_METRICS)[keyof typeof PROVIDER_METRICS];

/** Powertools cold-start metric: dimensions `{ service, function_name }`. */
export const COLD_START_METRIC = 'ColdStart';

/** Metric produced by the log metric filter on the function's log group. */
export const ROTATED_LOG_LINES_METRIC = 'RotatedLogLines';

/** Every rotation log line's `message` contains this word (SPEC § Observability). */
export const ROTATED_TERM = 'rotated';

export const PHYSICAL_NAMES = {
  table: 'nanobot-config',
  function: 'nanobot',
  functionLogGroup: '/aws/lambda/nanobot',
  secret: 'nanobot/provider-keys',
  api: 'nanobot',
  apiAccessLogGroup: '/aws/apigateway/nanobot-access',
  dashboard: 'nanobot',
  alarmTopic: 'nanobot-alarms',
  alarmPrefix: 'nanobot',
} as const;
