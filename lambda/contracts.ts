/**
 * What the function's code and the infrastructure (`lib/`) must agree on, in one module both
 * import: the routes, the metric names and namespace, the provider ids. An alarm, a dashboard or
 * an API Gateway resource can then never point at something the runtime does not serve or emit
 * (test/infra checks both directions).
 */
export { PROVIDER_IDS, VENDORS } from './providers/registry';
/** The items the function may delete: Powertools Idempotency's records (the IAM grant is scoped to them). */
export { IDEMPOTENCY_PK_PREFIX } from './domain/jobs';

/** Powertools `service` dimension and log field (`POWERTOOLS_SERVICE_NAME`). */
export const SERVICE_NAME = 'nanobot';

/** CloudWatch namespace of the EMF metrics (`POWERTOOLS_METRICS_NAMESPACE`) and of the log metric filter. */
export const METRIC_NAMESPACE = 'Nanobot';

/** Every key-switch log line says this (the runtime writes it; the log metric filter counts lines containing ROTATED_TERM). */
export const ROTATED_MESSAGE = 'key rotated';
export const ROTATED_TERM = 'rotated';

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
  /** Milliseconds from the request's arrival to the first byte of its answer (served requests). */
  timeToFirstByte: 'TimeToFirstByte',
  /** Streamed answers that failed after their first byte. */
  streamAborted: 'StreamAborted',
  /** Requests that fell back from this provider to another of their chain. */
  fallbacks: 'Fallbacks',
  /** Milliseconds a request waited in its vendor's admission queue (requests that waited only; SampleCount = how many). */
  queueWait: 'QueueWait',
  /** Requests the admission queue answered 429 at once (queue full, or no start possible within the allowed wait). */
  queueRefused: 'QueueRefused',
} as const;

/**
 * EMF metrics of the scheduled key probes: `KeyQuotaUsedPercent` per key, dimensions exactly
 * `{ service, vendor, key }` (key = the public id `<vendor>#<n>`); `KeysPassingProbes` and
 * `ProbeFailures` per vendor, dimensions exactly `{ service, vendor }`. One EMF line per dimension
 * set per run.
 */
export const PROBE_METRICS = {
  keyQuotaUsedPercent: 'KeyQuotaUsedPercent',
  keysPassingProbes: 'KeysPassingProbes',
  probeFailures: 'ProbeFailures',
} as const;

/** Environment of the probe settings the infrastructure sets on both functions. */
export const PROBE_ENV = {
  intervalMs: 'PROBE_INTERVAL_MS',
  quotaWarnPercent: 'PROBE_QUOTA_WARN_PERCENT',
} as const;

/** The second handler export of the one bundle (`lambda/index.mts`): the scheduled key probe. */
export const PROBE_HANDLER_EXPORT = 'probeHandler';

export interface RouteContract {
  readonly method: 'GET' | 'POST';
  /** API Gateway resource path; `{id}` is a path parameter. */
  readonly path: string;
}

/** Every route the function serves; API Gateway answers anything else 404 without invoking it. */
export const ROUTES = {
  speech: { method: 'POST', path: '/v1/audio/speech' },
  images: { method: 'POST', path: '/v1/images/generations' },
  createVideo: { method: 'POST', path: '/v1/videos' },
  getVideo: { method: 'GET', path: '/v1/videos/{id}' },
  videoContent: { method: 'GET', path: '/v1/videos/{id}/content' },
  createAudioGeneration: { method: 'POST', path: '/v1/audio/generations' },
  getAudioGeneration: { method: 'GET', path: '/v1/audio/generations/{id}' },
  health: { method: 'GET', path: '/v1/health' },
} as const satisfies Record<string, RouteContract>;

/** A route's path as the runtime's matcher: exact, with `{param}` capturing one path segment. */
export function routePattern(path: string): RegExp {
  const escaped = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[a-z]+\}/gi, '([^/]+)');
  return new RegExp(`^${escaped}$`);
}
