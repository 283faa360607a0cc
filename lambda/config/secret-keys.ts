import { OwnError } from '../domain';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { moduleOf, Vendor, VENDORS } from '../providers/registry';
import { checkKeyEntry } from './env';

/**
 * Provider key pools kept in one Secrets Manager secret (`nanobot/provider-keys`), e.g.
 * `{"openai":["sk-…"],"elevenlabs":["…"],"fal":["id:secret"],"kling":["ACCESS:SECRET"]}`.
 * Each field is an array of keys or one comma-separated string. The field names are the vendor
 * vendor ids of the provider registry.
 */
export type SecretKeys = Partial<Record<Vendor, string[]>> & {
  /** Fallback chains and voice map (same shapes as MODEL_FALLBACKS and VOICE_MAP), checked at start-up by `loadFallbackConfig`. */
  fallbacks?: unknown;
  voices?: unknown;
};


/**
 * How long a fetched secret is reused before Secrets Manager is asked again: keys added or
 * rotated with `put-secret-value` reach every warm container within five minutes, and a busy
 * container costs one GetSecretValue call per five minutes.
 */
export const DEFAULT_SECRET_MAX_AGE_SECONDS = 300;

export class SecretKeysError extends OwnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretKeysError';
  }
}

/**
 * Parses the secret's JSON into key pools: entries trimmed, empty entries dropped, duplicates
 * removed (first wins), unknown fields ignored. A malformed shape throws an error naming the
 * field and the entry's 1-based position — never the value, which may be a key.
 * `null` for a field means "no keys".
 */
export function parseSecretKeys(json: string): SecretKeys {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    // V8's SyntaxError quotes the input around the error position: never pass it on.
    throw new SecretKeysError('provider keys secret is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SecretKeysError('provider keys secret must be a JSON object with fields openai, elevenlabs, fal, kling');
  }
  const fields = doc as Record<string, unknown>;
  const out: SecretKeys = {};
  for (const vendor of VENDORS) {
    if (!Object.prototype.hasOwnProperty.call(fields, vendor)) continue;
    out[vendor] = parseField(vendor, fields[vendor]);
  }
  for (const f of ['fallbacks', 'voices'] as const) if (Object.hasOwn(fields, f)) out[f] = fields[f];
  return out;
}

function parseField(vendor: Vendor, value: unknown): string[] {
  let entries: unknown[];
  if (value === null) return [];
  if (typeof value === 'string') entries = value.split(',');
  else if (Array.isArray(value)) entries = value;
  else {
    throw new SecretKeysError(
      `provider keys secret field "${vendor}" must be an array of strings or a comma-separated string`,
    );
  }
  const keys: string[] = [];
  entries.forEach((entry, i) => {
    const where = `provider keys secret field "${vendor}" entry ${i + 1}`;
    if (typeof entry !== 'string') throw new SecretKeysError(`${where} must be a string`);
    const { key, problem } = checkKeyEntry(entry, moduleOf(vendor).keys.pair);
    if (problem) throw new SecretKeysError(`${where} is malformed: ${problem}`);
    if (key && !keys.includes(key)) keys.push(key);
  });
  return keys;
}

export interface LoadSecretKeysOptions {
  /** Cache lifetime; 0 fetches on every call. @default 300 */
  maxAgeSeconds?: number;
  /** Client to use (tests, other regions); by default one from the Lambda environment. */
  client?: SecretsManagerClient;
}

let defaultProvider: SecretsProvider | undefined;
const providersByClient = new WeakMap<SecretsManagerClient, SecretsProvider>();

/** One Powertools provider (and so one cache) per client, created on first use. */
function providerFor(client?: SecretsManagerClient): SecretsProvider {
  if (!client) return (defaultProvider ??= new SecretsProvider());
  let provider = providersByClient.get(client);
  if (!provider) {
    provider = new SecretsProvider({ awsSdkV3Client: client });
    providersByClient.set(client, provider);
  }
  return provider;
}

/**
 * Reads and parses the key pools, through the Powertools Parameters cache: within
 * `maxAgeSeconds` of a fetch, calls are answered from memory without touching Secrets Manager.
 * Errors name the secret id and the failure, never the secret's content.
 */
export async function loadSecretKeys(secretId: string, opts: LoadSecretKeysOptions = {}): Promise<SecretKeys> {
  const maxAge = opts.maxAgeSeconds ?? DEFAULT_SECRET_MAX_AGE_SECONDS;
  let raw: string | Uint8Array | undefined;
  try {
    raw = await providerFor(opts.client).get(secretId, { maxAge });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SecretKeysError(`could not read provider keys secret ${secretId}: ${reason}`, { cause: err });
  }
  if (raw === undefined) throw new SecretKeysError(`provider keys secret ${secretId} has no value`);
  return parseSecretKeys(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
}
