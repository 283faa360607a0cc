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
  /** p95 function duration (ms) over 5 minutes that raises the latency alarm. */
  readonly latencyP95AlarmMs: number;
}

export const DEFAULT_SETTINGS: NanobotSettings = {
  // One internal client (the chatweb.ai backend); TTS/image calls take seconds, so 25 rps is far
  // above expected load yet caps a runaway loop before it burns vendor credit.
  throttleRate: 25,
  throttleBurst: 50,
  // 20 rotations in 5 minutes = a key switch every 15 s: a pool running hot, not a blip.
  rotationAlarmThreshold: 20,
  failureRatioThreshold: 0.5,
  failureRatioMinRequests: 10,
  // The handler gives up at 26 s (REQUEST_DEADLINE_MS); a p95 of 20 s means most slow requests
  // are close to that edge.
  latencyP95AlarmMs: 20_000,
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
  };
  if (settings.throttleBurst < settings.throttleRate) {
    throw new Error(
      `context ${CONTEXT_KEYS.throttleBurst} (${settings.throttleBurst}) must be at least ${CONTEXT_KEYS.throttleRate} (${settings.throttleRate})`,
    );
  }
  return settings;
}

function num(
  read: ContextReader,
  key: string,
  fallback: number,
  range: { min: number; max?: number; integer?: boolean },
): number {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return fallback;
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

function email(read: ContextReader, key: string): string | undefined {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(raw.trim())) {
    throw new Error(`context ${key} must be an email address`);
  }
  return raw.trim();
}
