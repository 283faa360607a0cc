import { VENDORS, Vendor } from '../core/types';
import { CooldownPolicy, DEFAULT_COOLDOWN_POLICY } from '../keys/cooldown';

/** Configuration read once, at start-up, from the environment (SPEC § Configuration). */
export interface GatewayConfig {
  keys: Record<Vendor, string[]>;
  baseUrls: BaseUrls;
  tableName: string;
  /** Set for dynalite or another endpoint; unset in AWS. */
  dynamodbEndpoint?: string;
  /** Provider keys in Secrets Manager (the deployed stack sets it). */
  providerKeysSecretId?: string;
  rotation: RotationSettings;
  cooldown: CooldownPolicy;
  /** Health recording to DynamoDB (HEALTH_RECORDING=off disables it: escape hatch and benchmark baseline). */
  healthRecording: boolean;
  jobs: { minPollIntervalMs: number; pollTimeoutMs: number };
  /** Fleet-wide key state through DynamoDB (KEY_STATE_SHARING=off: each instance on its own). */
  keyStateSharing: { enabled: boolean; refreshIntervalMs: number; waitBudgetMs: number };
}

export interface BaseUrls {
  openai: string;
  elevenlabs: string;
  fal: string;
  falQueue: string;
  kling: string;
}

export interface RotationSettings {
  /** Upper bound on a request's time budget; Lambda's remaining time minus `deadlineMarginMs` can only shorten it. */
  requestDeadlineMs: number;
  deadlineMarginMs: number;
  /** Upstream attempts per request, all keys together. */
  maxAttempts: number;
  /** When every key is cooling, wait for the earliest only if it is usable within this; else answer 429 at once. */
  maxWaitMs: number;
  /** Full-jitter exponential backoff for overloaded providers: base and cap. */
  backoffBaseMs: number;
  backoffCapMs: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Per vendor: variables (plural first) and what an entry must look like. */
const KEY_VARS: Record<Vendor, { plural: string; singular: string }> = {
  openai: { plural: 'OPENAI_API_KEYS', singular: 'OPENAI_API_KEY' },
  elevenlabs: { plural: 'ELEVENLABS_API_KEYS', singular: 'ELEVENLABS_API_KEY' },
  fal: { plural: 'FAL_KEYS', singular: 'FAL_KEY' },
  kling: { plural: 'KLING_API_KEYS', singular: 'KLING_API_KEY' },
};

export const DEFAULT_BASE_URLS: BaseUrls = {
  openai: 'https://api.openai.com/v1',
  elevenlabs: 'https://api.elevenlabs.io',
  fal: 'https://fal.run',
  falQueue: 'https://queue.fal.run',
  kling: 'https://api-singapore.klingai.com',
};

const BASE_URL_VARS: Record<keyof BaseUrls, string> = {
  openai: 'OPENAI_BASE_URL',
  elevenlabs: 'ELEVENLABS_BASE_URL',
  fal: 'FAL_BASE_URL',
  falQueue: 'FAL_QUEUE_BASE_URL',
  kling: 'KLING_BASE_URL',
};

export function loadConfig(env: Env = process.env): GatewayConfig {
  const keys = {} as Record<Vendor, string[]>;
  for (const vendor of VENDORS) keys[vendor] = keysFromEnv(env, vendor);
  const baseUrls = {} as BaseUrls;
  for (const k of Object.keys(BASE_URL_VARS) as (keyof BaseUrls)[]) {
    baseUrls[k] = baseUrl(env, BASE_URL_VARS[k], DEFAULT_BASE_URLS[k]);
  }
  return {
    keys,
    baseUrls,
    tableName: nonEmpty(env.TABLE_NAME) ?? 'nanobot-config',
    dynamodbEndpoint: env.DYNAMODB_ENDPOINT ? baseUrl(env, 'DYNAMODB_ENDPOINT', '') : undefined,
    providerKeysSecretId: nonEmpty(env.PROVIDER_KEYS_SECRET_ID),
    rotation: {
      requestDeadlineMs: int(env, 'REQUEST_DEADLINE_MS', 26_000, 100),
      deadlineMarginMs: int(env, 'DEADLINE_MARGIN_MS', 1_000, 0),
      maxAttempts: int(env, 'MAX_ATTEMPTS', 6, 1),
      maxWaitMs: int(env, 'MAX_KEY_WAIT_MS', 1_000, 0),
      backoffBaseMs: int(env, 'BACKOFF_BASE_MS', 200, 1),
      backoffCapMs: int(env, 'BACKOFF_CAP_MS', 4_000, 1),
    },
    healthRecording: onOff(env, 'HEALTH_RECORDING', true),
    keyStateSharing: {
      enabled: onOff(env, 'KEY_STATE_SHARING', true),
      refreshIntervalMs: int(env, 'KEY_STATE_REFRESH_MS', 1_000, 0),
      waitBudgetMs: int(env, 'KEY_STATE_WAIT_MS', 20, 0),
    },
    jobs: {
      minPollIntervalMs: int(env, 'JOB_POLL_MIN_INTERVAL_MS', 2_000, 0),
      pollTimeoutMs: int(env, 'JOB_POLL_TIMEOUT_MS', 5_000, 100),
    },
    cooldown: {
      ...DEFAULT_COOLDOWN_POLICY,
      defaultCooldownMs: int(env, 'COOLDOWN_DEFAULT_MS', DEFAULT_COOLDOWN_POLICY.defaultCooldownMs, 1),
      maxCooldownMs: int(env, 'COOLDOWN_MAX_MS', DEFAULT_COOLDOWN_POLICY.maxCooldownMs, 1),
      disableMs: int(env, 'KEY_DISABLE_MS', DEFAULT_COOLDOWN_POLICY.disableMs, 1),
    },
  };
}

/** The vendor's pool from its plural and singular variables: the union, deduplicated, plural first. */
export function keysFromEnv(env: Env, vendor: Vendor): string[] {
  const vars = KEY_VARS[vendor];
  const pair = KEY_PAIR_FORMAT[vendor];
  return mergeKeyLists(parseKeyList(env[vars.plural], vars.plural, pair), parseKeyList(env[vars.singular], vars.singular, pair));
}

/** The `A:B` shape each vendor's keys must have, if any (fal `id:secret`, Kling access:secret). */
export const KEY_PAIR_FORMAT: Partial<Record<Vendor, string>> = {
  fal: 'KEY_ID:KEY_SECRET',
  kling: 'ACCESS_KEY:SECRET_KEY',
};

/**
 * One key entry, trimmed: `{ key }`, `{}` for an empty entry, or `{ problem }` — a description
 * that never contains the entry itself (it may be a key). Shared by env and secret parsing.
 */
export function checkKeyEntry(entry: string, pair?: string): { key?: string; problem?: string } {
  const key = entry.trim();
  if (key === '') return {};
  if (/\s/.test(key)) return { problem: 'it contains whitespace' };
  if (pair) {
    const parts = key.split(':');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return { problem: `expected ${pair}` };
  }
  return { key };
}

/** Splits a comma-separated list, trims, drops empty entries, validates each without ever echoing it. */
export function parseKeyList(raw: string | undefined, variable: string, pair?: string): string[] {
  if (raw === undefined) return [];
  const out: string[] = [];
  raw.split(',').forEach((entry, i) => {
    const { key, problem } = checkKeyEntry(entry, pair);
    if (problem) throw new ConfigError(`${variable} entry ${i + 1} is malformed: ${problem}`);
    if (key) out.push(key);
  });
  return out;
}

export function mergeKeyLists(...lists: string[][]): string[] {
  return [...new Set(lists.flat())];
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

function baseUrl(env: Env, variable: string, fallback: string): string {
  const raw = nonEmpty(env[variable]);
  if (raw === undefined) return fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${variable} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${variable} must be an http(s) URL`);
  return raw.replace(/\/+$/, '');
}

function onOff(env: Env, variable: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[variable])?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['on', 'true', '1'].includes(raw)) return true;
  if (['off', 'false', '0'].includes(raw)) return false;
  throw new ConfigError(`${variable} must be on or off`);
}

function int(env: Env, variable: string, fallback: number, min: number): number {
  const raw = nonEmpty(env[variable]);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new ConfigError(`${variable} must be an integer ≥ ${min}`);
  return Number(raw);
}
