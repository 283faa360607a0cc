/**
 * Names the infrastructure owns (physical names), next to the contracts it shares with the
 * function's code (routes, metric names, namespace, provider ids), which live in
 * lambda/contracts.ts so that neither side keeps a copy of the other's.
 */
import { PROVIDER_METRICS } from '../lambda/contracts';

export { IDEMPOTENCY_PK_PREFIX, METRIC_NAMESPACE, PROBE_ENV, PROBE_HANDLER_EXPORT, PROBE_METRICS, PROVIDER_IDS, PROVIDER_METRICS, ROUTES, SERVICE_NAME, VENDORS } from '../lambda/contracts';
export type ProviderMetricName = (typeof PROVIDER_METRICS)[keyof typeof PROVIDER_METRICS];

/** Powertools cold-start metric: dimensions `{ service, function_name }`. */
export const COLD_START_METRIC = 'ColdStart';

/** Metric produced by the log metric filter on the function's log group. */
export const ROTATED_LOG_LINES_METRIC = 'RotatedLogLines';

/** Every rotation log line's `message` contains this word (the log metric filter counts them). */
export { ROTATED_TERM } from '../lambda/contracts';

export const PHYSICAL_NAMES = {
  table: 'nanobot-config',
  function: 'nanobot',
  functionLogGroup: '/aws/lambda/nanobot',
  probeFunction: 'nanobot-probe',
  probeRule: 'nanobot-probe-schedule',
  secret: 'nanobot/provider-keys',
  api: 'nanobot',
  apiAccessLogGroup: '/aws/apigateway/nanobot-access',
  dashboard: 'nanobot',
  alarmTopic: 'nanobot-alarms',
  alarmPrefix: 'nanobot',
} as const;
