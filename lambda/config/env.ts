import * as z from 'zod/mini';
import { OwnError } from '../domain';
import { CooldownPolicy, DEFAULT_COOLDOWN_POLICY } from '../keys/cooldown';
import type { AdmissionSettings } from '../rotation/admission';
import type { RotationSettings } from '../rotation/decide';
import { BASE_URL_SETTINGS, moduleOf, Vendor, VENDORS } from '../providers/registry';
import type { BaseUrls } from '../providers/types';
import { FallbackConfig, loadFallbackConfig } from './fallbacks';

/** Configuration read once, at start-up, from the environment (the README's configuration table). */
export interface GatewayConfig {
  keys: Record<Vendor, string[]>;
  baseUrls: BaseUrls;
  tableName: string;
  /** Set for dynalite or another endpoint; unset in AWS. */
  dynamodbEndpoint?: string;
  /** Provider keys in Secrets Manager (the deployed stack sets it). */
  providerKeysSecretId?: string;
  rotation: RotationSettings;
  /** Per-vendor admission queue (MAX_QUEUE_WAIT_MS, MAX_QUEUE_LENGTH; length 0 = no queue). */
  admission: AdmissionSettings;
  cooldown: CooldownPolicy;
  /** Health recording to DynamoDB (HEALTH_RECORDING=off disables it: escape hatch and benchmark baseline). */
  healthRecording: boolean;
  jobs: JobConfig;
  /** Fleet-wide key state through DynamoDB (KEY_STATE_SHARING=off: each instance on its own). */
  keyStateSharing: { enabled: boolean; refreshIntervalMs: number; waitBudgetMs: number; refreshAheadMs: number };
  /** Upstream answers: the most read whole (error bodies, answers reshaped), and a streamed body's idle timeout. */
  transport: { maxAnswerBytes: number; idleTimeoutMs: number };
  /** Scheduled key probes (`lambda/probes`). */
  probes: ProbeConfig;
  /** Fallback chains and the voice map (`MODEL_FALLBACKS`, `VOICE_MAP`; the secret's on top at start-up); empty: off. */
  fallbacks: FallbackConfig;
  /** While a provider's STATUS is down, how often one request still tries it; and how often STATUS is read for that. */
  fallbackPolicy: { retryDownMs: number; statusRefreshMs: number };
}

export interface ProbeConfig {
  /** Locally the probe timer's period (0 = off); in Lambda the schedule's, set by the stack (staleness of results). */
  intervalMs: number;
  /** One probe call's time-out. */
  timeoutMs: number;
  /** A whole run's budget: no probe starts after it. */
  runBudgetMs: number;
  /** Quota use (%) from which a key counts as running out (status reason; the alarm's threshold is the stack's). */
  quotaWarnPercent: number;
}

export interface JobConfig {
  minPollIntervalMs: number;
  pollTimeoutMs: number;
  /** How long a job in state `unknown` stays so when the provider does not know its task (it may still be arriving). */
  unknownGraceMs: number;
  /** Extra hosts result URLs may point at (`MEDIA_URL_HOSTS`): `cdn.x.com` exact, `.x.com` any subdomain. */
  mediaUrlHosts: string[];
}

export class ConfigError extends OwnError {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** A string variable, trimmed; blank counts as unset. */
const text = z.pipe(z.optional(z.string()), z.transform((v) => (v?.trim() ? v.trim() : undefined)));

const int = (fallback: number, min: number) =>
  z.pipe(text, z.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      ctx.issues.push({ code: 'custom', message: `must be an integer ≥ ${min}`, input: raw });
      return z.NEVER;
    }
    return Number(raw);
  }));

const onOff = (fallback: boolean) =>
  z.pipe(text, z.transform((raw, ctx) => {
    const v = raw?.toLowerCase();
    if (v === undefined) return fallback;
    if (['on', 'true', '1'].includes(v)) return true;
    if (['off', 'false', '0'].includes(v)) return false;
    ctx.issues.push({ code: 'custom', message: 'must be on or off', input: raw });
    return z.NEVER;
  }));

/** An http(s) URL without its trailing slashes; the message never quotes the value. */
const url = (fallback: string | undefined) =>
  z.pipe(text, z.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      ctx.issues.push({ code: 'custom', message: 'is not a URL', input: raw });
      return z.NEVER;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      ctx.issues.push({ code: 'custom', message: 'must be an http(s) URL', input: raw });
      return z.NEVER;
    }
    return raw.replace(/\/+$/, '');
  }));

/** A DNS name of two labels or more, or `.` and one: what `MEDIA_URL_HOSTS` entries may be (never an IP, a scheme or a path). */
const HOST_RULE = /^\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** `MEDIA_URL_HOSTS`: comma-separated host rules, lower-cased; a bad entry fails start-up by position. */
const hostList = z.pipe(text, z.transform((raw, ctx) => {
  const out: string[] = [];
  for (const [i, entry] of (raw ?? '').split(',').entries()) {
    const rule = entry.trim().toLowerCase();
    if (rule === '') continue;
    if (!HOST_RULE.test(rule)) {
      ctx.issues.push({ code: 'custom', message: `entry ${i + 1} is not a host name or .suffix (e.g. cdn.example.com, .example.net)`, input: raw });
      return z.NEVER;
    }
    out.push(rule);
  }
  return out;
}));

const C = DEFAULT_COOLDOWN_POLICY;

/** Every variable but the key lists and base URLs (those come from the provider registry). */
const envSchema = z.object({
  TABLE_NAME: text,
  DYNAMODB_ENDPOINT: url(undefined),
  PROVIDER_KEYS_SECRET_ID: text,
  REQUEST_DEADLINE_MS: int(26_000, 100),
  DEADLINE_MARGIN_MS: int(1_000, 0),
  MAX_ATTEMPTS: int(6, 1),
  MAX_KEY_WAIT_MS: int(1_000, 0),
  MAX_QUEUE_WAIT_MS: int(20_000, 0),
  MAX_QUEUE_LENGTH: int(200, 0),
  BACKOFF_BASE_MS: int(200, 1),
  BACKOFF_CAP_MS: int(4_000, 1),
  HEALTH_RECORDING: onOff(true),
  KEY_STATE_SHARING: onOff(true),
  KEY_STATE_REFRESH_MS: int(1_000, 0),
  KEY_STATE_REFRESH_AHEAD_MS: int(5_000, 0),
  KEY_STATE_WAIT_MS: int(20, 0),
  JOB_POLL_MIN_INTERVAL_MS: int(2_000, 0),
  JOB_POLL_TIMEOUT_MS: int(5_000, 100),
  JOB_UNKNOWN_GRACE_MS: int(60_000, 0),
  MEDIA_URL_HOSTS: hostList,
  COOLDOWN_DEFAULT_MS: int(C.defaultCooldownMs, 1),
  COOLDOWN_MAX_MS: int(C.maxCooldownMs, 1),
  KEY_DISABLE_MS: int(C.disableMs, 1),
  MAX_UPSTREAM_BYTES: int(64 * 1024 * 1024, 1024),
  STREAM_IDLE_TIMEOUT_MS: int(30_000, 100),
  PROBE_INTERVAL_MS: int(60_000, 0),
  PROBE_TIMEOUT_MS: int(5_000, 100),
  PROBE_RUN_BUDGET_MS: int(20_000, 1_000),
  PROBE_QUOTA_WARN_PERCENT: int(80, 1),
  FALLBACK_RETRY_DOWN_MS: int(20_000, 0),
  FALLBACK_STATUS_REFRESH_MS: int(5_000, 100),
});

/** Parses with a schema; the first problem becomes a ConfigError naming the variable. */
function parseEnv<S extends z.ZodMiniType>(schema: S, env: Env): z.output<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ConfigError(`${issue.path.map(String).join('.')} ${issue.message}`);
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const keys = {} as Record<Vendor, string[]>;
  for (const vendor of VENDORS) keys[vendor] = keysFromEnv(env, vendor);
  const urlSchema = z.object(Object.fromEntries(Object.values(BASE_URL_SETTINGS).map((s) => [s.variable, url(s.default)])));
  const urls = parseEnv(urlSchema, env) as Record<string, string>;
  const baseUrls: BaseUrls = Object.fromEntries(Object.entries(BASE_URL_SETTINGS).map(([name, s]) => [name, urls[s.variable]]));
  const e = parseEnv(envSchema, env);
  return {
    keys,
    baseUrls,
    tableName: e.TABLE_NAME ?? 'nanobot-config',
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    providerKeysSecretId: e.PROVIDER_KEYS_SECRET_ID,
    rotation: {
      requestDeadlineMs: e.REQUEST_DEADLINE_MS,
      deadlineMarginMs: e.DEADLINE_MARGIN_MS,
      maxAttempts: e.MAX_ATTEMPTS,
      maxWaitMs: e.MAX_KEY_WAIT_MS,
      backoffBaseMs: e.BACKOFF_BASE_MS,
      backoffCapMs: e.BACKOFF_CAP_MS,
    },
    admission: { maxQueueWaitMs: e.MAX_QUEUE_WAIT_MS, maxQueueLength: e.MAX_QUEUE_LENGTH },
    healthRecording: e.HEALTH_RECORDING,
    keyStateSharing: { enabled: e.KEY_STATE_SHARING, refreshIntervalMs: e.KEY_STATE_REFRESH_MS, waitBudgetMs: e.KEY_STATE_WAIT_MS, refreshAheadMs: e.KEY_STATE_REFRESH_AHEAD_MS },
    jobs: { minPollIntervalMs: e.JOB_POLL_MIN_INTERVAL_MS, pollTimeoutMs: e.JOB_POLL_TIMEOUT_MS, unknownGraceMs: e.JOB_UNKNOWN_GRACE_MS, mediaUrlHosts: e.MEDIA_URL_HOSTS },
    transport: { maxAnswerBytes: e.MAX_UPSTREAM_BYTES, idleTimeoutMs: e.STREAM_IDLE_TIMEOUT_MS },
    cooldown: { ...C, defaultCooldownMs: e.COOLDOWN_DEFAULT_MS, maxCooldownMs: e.COOLDOWN_MAX_MS, disableMs: e.KEY_DISABLE_MS },
    probes: { intervalMs: e.PROBE_INTERVAL_MS, timeoutMs: e.PROBE_TIMEOUT_MS, runBudgetMs: e.PROBE_RUN_BUDGET_MS, quotaWarnPercent: e.PROBE_QUOTA_WARN_PERCENT },
    fallbacks: loadFallbackConfig(env),
    fallbackPolicy: { retryDownMs: e.FALLBACK_RETRY_DOWN_MS, statusRefreshMs: e.FALLBACK_STATUS_REFRESH_MS },
  };
}

/** The vendor's pool from its plural and singular variables: the union, deduplicated, plural first. */
export function keysFromEnv(env: Env, vendor: Vendor): string[] {
  const vars = moduleOf(vendor).keys;
  return mergeKeyLists(parseKeyList(env[vars.plural], vars.plural, vars.pair), parseKeyList(env[vars.singular], vars.singular, vars.pair));
}

/**
 * Control (Cc: NUL, DEL, C1) and format (Cf: zero-width space and joiners, BOM, bidi marks)
 * characters: invisible when a key is pasted, so a key carrying one fails every call with no visible
 * cause (and ends up sent in a header). Start-up refuses it instead.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

/** `U+200B`: names the character, which is not part of any key. */
const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * One key entry, trimmed: `{ key }`, `{}` for an empty entry, or `{ problem }` — a description
 * that never contains the entry itself (it may be a key). Shared by env and secret parsing.
 */
export function checkKeyEntry(entry: string, pair?: string): { key?: string; problem?: string } {
  const key = entry.trim();
  if (key === '') return {};
  // Checked after trimming (a pasted trailing newline is whitespace, trimmed as before); the
  // position counts characters of the entry as written.
  const hidden = INVISIBLE.exec(key);
  if (hidden) {
    const at = entry.length - entry.trimStart().length + hidden.index + 1;
    return { problem: `it contains an invisible character (${codePoint(hidden[0])}) at character ${at}` };
  }
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
