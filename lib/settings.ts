/**
 * Deploy-time knobs, read once from CDK context (`cdk deploy -c throttleRate=50`, or the `context`
 * block of cdk.json). Values given on the command line arrive as strings, so every number is parsed
 * and range-checked here, and a bad value fails synth with the context key's name.
 */
export interface NanobotSettings {
  /** Usage-plan steady-state limit, requests per second per API key. */
  readonly throttleRate: number;
  /** Usage-plan burst (token bucket size), requests. */
  readonly throttleBurst: number;
  /** Email subscribed to the alarm topic; none when unset (subscribe later in the console). */
  readonly alarmEmail?: string;
  /** Key rotations across all providers within 5 minutes that raise the rotation alarms. */
  readonly rotationAlarmThreshold: number;
  /** Share of a provider's requests failing within 5 minutes that raises its failure alarm. */
  readonly failureRatioThreshold: number;
  /** Requests a provider must see within 5 minutes before its failure ratio can alarm. */
  readonly failureRatioMinRequests: number;
  /**
   * p95 time to first byte (ms, EMF `TimeToFirstByte`) of a provider over 5 minutes that raises its
   * `nanobot-ttfb-p95-<provider>` alarm. The name is kept from when it watched function duration,
   * which streaming made meaningless (a long audio answer is a long invocation).
   */
  readonly latencyP95AlarmMs: number;
  /**
   * Concurrent executions reserved for (and capping) the function; none when unset. Requests above
   * it are throttled by Lambda and answered 5xx by API Gateway (alarm `nanobot-function-throttles`).
   */
  readonly reservedConcurrency?: number;
  /** Usage-plan quota: requests per API key per {@link usageQuotaPeriod}; no quota when unset. */
  readonly usageQuotaLimit?: number;
  /** Period of {@link usageQuotaLimit}; given together with it. */
  readonly usageQuotaPeriod?: QuotaPeriod;
  /**
   * How long API Gateway waits for a streamed answer to finish (seconds; stream mode allows up to
   * 15 minutes). The function timeout sits 10 s above it.
   */
  readonly integrationTimeoutSeconds: number;
  /**
   * The request deadline (`REQUEST_DEADLINE_MS`): how long a request may take to its first byte —
   * attempts, backoff and waits for keys included. Below the integration timeout.
   */
  readonly requestDeadlineSeconds: number;
  /** Minutes between two scheduled key-probe runs (EventBridge rate). */
  readonly probeIntervalMinutes: number;
  /** A key's quota use (%) that raises `nanobot-key-quota-high`, and that status calls running out. */
  readonly keyQuotaAlarmPercent: number;
}

/** Usage-plan quota periods API Gateway accepts. */
export const QUOTA_PERIODS = ['DAY', 'WEEK', 'MONTH'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

export const DEFAULT_SETTINGS: NanobotSettings = {
  // One internal client (the chatweb.ai backend); TTS/image calls take seconds, so 25 rps is far
  // above expected load yet caps a runaway loop before it burns vendor credit.
  throttleRate: 25,
  throttleBurst: 50,
  // 20 rotations in 5 minutes = a key switch every 15 s: a pool running hot, not a blip.
  rotationAlarmThreshold: 20,
  failureRatioThreshold: 0.5,
  failureRatioMinRequests: 10,
  // 20 s before the first byte: speech and job creation are far below it. One threshold for all
  // providers: gpt-image-1 at high quality alone can exceed it (see requestDeadlineSeconds), and
  // openai-image's alarm fires when such requests make its p95.
  latencyP95AlarmMs: 20_000,
  // Five minutes: a 4,096-character speech answer is about 4.5 minutes of audio, relayed as OpenAI
  // produces it (faster than real time); API Gateway's idle timeout for Regional APIs is 5 minutes.
  integrationTimeoutSeconds: 300,
  // gpt-image-1 at high quality takes over a minute before its first byte; two leave room to rotate.
  requestDeadlineSeconds: 120,
  // Each run is one free, read-only call per key: once a minute keeps a revoked key's detection
  // within a minute of idle time, far below every vendor's limit on those routes.
  probeIntervalMinutes: 1,
  keyQuotaAlarmPercent: 80,
};

/** Context keys, exactly as typed after `-c`. */
export const CONTEXT_KEYS = {
  throttleRate: 'throttleRate',
  throttleBurst: 'throttleBurst',
  alarmEmail: 'alarmEmail',
  rotationAlarmThreshold: 'rotationAlarmThreshold',
  failureRatioThreshold: 'failureRatioThreshold',
  failureRatioMinRequests: 'failureRatioMinRequests',
  latencyP95AlarmMs: 'latencyP95AlarmMs',
  reservedConcurrency: 'reservedConcurrency',
  usageQuotaLimit: 'usageQuotaLimit',
  usageQuotaPeriod: 'usageQuotaPeriod',
  integrationTimeoutSeconds: 'integrationTimeoutSeconds',
  requestDeadlineSeconds: 'requestDeadlineSeconds',
  probeIntervalMinutes: 'probeIntervalMinutes',
  keyQuotaAlarmPercent: 'keyQuotaAlarmPercent',
} as const satisfies Record<keyof NanobotSettings, string>;

/** Reads a context value; `undefined` when the key is absent. */
export type ContextReader = (key: string) => unknown;

/** Parses every setting, falling back to the defaults; throws naming the offending context key. */
export function parseSettings(read: ContextReader): NanobotSettings {
  const settings: NanobotSettings = {
    throttleRate: num(read, CONTEXT_KEYS.throttleRate, DEFAULT_SETTINGS.throttleRate, { min: 1 }),
    throttleBurst: num(read, CONTEXT_KEYS.throttleBurst, DEFAULT_SETTINGS.throttleBurst, { min: 1, integer: true }),
    alarmEmail: email(read, CONTEXT_KEYS.alarmEmail),
    rotationAlarmThreshold: num(read, CONTEXT_KEYS.rotationAlarmThreshold, DEFAULT_SETTINGS.rotationAlarmThreshold, {
      min: 1,
      integer: true,
    }),
    failureRatioThreshold: num(read, CONTEXT_KEYS.failureRatioThreshold, DEFAULT_SETTINGS.failureRatioThreshold, {
      min: 0.01,
      max: 1,
    }),
    failureRatioMinRequests: num(read, CONTEXT_KEYS.failureRatioMinRequests, DEFAULT_SETTINGS.failureRatioMinRequests, {
      min: 1,
      integer: true,
    }),
    latencyP95AlarmMs: num(read, CONTEXT_KEYS.latencyP95AlarmMs, DEFAULT_SETTINGS.latencyP95AlarmMs, {
      min: 100,
      integer: true,
    }),
    // 0 would stop the function altogether; Lambda itself refuses a value that leaves the account
    // fewer than 100 unreserved executions, which only the deploy can know.
    reservedConcurrency: optionalNum(read, CONTEXT_KEYS.reservedConcurrency, { min: 1, integer: true }),
    usageQuotaLimit: optionalNum(read, CONTEXT_KEYS.usageQuotaLimit, { min: 1, integer: true }),
    usageQuotaPeriod: oneOf(read, CONTEXT_KEYS.usageQuotaPeriod, QUOTA_PERIODS),
    integrationTimeoutSeconds: num(read, CONTEXT_KEYS.integrationTimeoutSeconds, DEFAULT_SETTINGS.integrationTimeoutSeconds, { min: 30, max: 890, integer: true }),
    requestDeadlineSeconds: num(read, CONTEXT_KEYS.requestDeadlineSeconds, DEFAULT_SETTINGS.requestDeadlineSeconds, { min: 5, max: 880, integer: true }),
    probeIntervalMinutes: num(read, CONTEXT_KEYS.probeIntervalMinutes, DEFAULT_SETTINGS.probeIntervalMinutes, { min: 1, max: 60, integer: true }),
    keyQuotaAlarmPercent: num(read, CONTEXT_KEYS.keyQuotaAlarmPercent, DEFAULT_SETTINGS.keyQuotaAlarmPercent, { min: 1, max: 100 }),
  };
  if (settings.requestDeadlineSeconds >= settings.integrationTimeoutSeconds) {
    throw new Error(
      `context ${CONTEXT_KEYS.requestDeadlineSeconds} (${settings.requestDeadlineSeconds}) must be below ${CONTEXT_KEYS.integrationTimeoutSeconds} (${settings.integrationTimeoutSeconds})`,
    );
  }
  if (settings.throttleBurst < settings.throttleRate) {
    throw new Error(
      `context ${CONTEXT_KEYS.throttleBurst} (${settings.throttleBurst}) must be at least ${CONTEXT_KEYS.throttleRate} (${settings.throttleRate})`,
    );
  }
  if ((settings.usageQuotaLimit === undefined) !== (settings.usageQuotaPeriod === undefined)) {
    throw new Error(`context ${CONTEXT_KEYS.usageQuotaLimit} and ${CONTEXT_KEYS.usageQuotaPeriod} go together: set both or neither`);
  }
  return settings;
}

const isUnset = (raw: unknown): boolean => raw === undefined || raw === null || raw === '';

interface NumberRange {
  min: number;
  max?: number;
  integer?: boolean;
}

function num(read: ContextReader, key: string, fallback: number, range: NumberRange): number {
  return optionalNum(read, key, range) ?? fallback;
}

/** A number in `range`, or undefined when the key is unset (a setting that is off by default). */
function optionalNum(read: ContextReader, key: string, range: NumberRange): number | undefined {
  const raw = read(key);
  if (isUnset(raw)) return undefined;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
  const bounds = range.max === undefined ? `≥ ${range.min}` : `between ${range.min} and ${range.max}`;
  if (
    !Number.isFinite(value) ||
    value < range.min ||
    (range.max !== undefined && value > range.max) ||
    (range.integer && !Number.isInteger(value))
  ) {
    throw new Error(`context ${key} must be ${range.integer ? 'an integer' : 'a number'} ${bounds}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** One of `values`, case-insensitive (`-c usageQuotaPeriod=month`); undefined when unset. */
function oneOf<T extends string>(read: ContextReader, key: string, values: readonly T[]): T | undefined {
  const raw = read(key);
  if (isUnset(raw)) return undefined;
  const value = typeof raw === 'string' ? raw.trim().toUpperCase() : undefined;
  const found = values.find((v) => v === value);
  if (!found) throw new Error(`context ${key} must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
  return found;
}

function email(read: ContextReader, key: string): string | undefined {
  const raw = read(key);
  if (isUnset(raw)) return undefined;
  if (typeof raw !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(raw.trim())) {
    throw new Error(`context ${key} must be an email address`);
  }
  return raw.trim();
}
