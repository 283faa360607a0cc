import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { VendorId } from '../domain';

/** A key as its probes see it: `ok` (the last conclusive probe passed), `disabled` (out of rotation fleet-wide), `unknown`. */
export type KeyHealthState = 'ok' | 'disabled' | 'unknown';

/** What one probe call came to. */
export type ProbeResult =
  | 'ok'
  /** The key authenticated but may not read the probe route (fal without billing scope, a restricted key). */
  | 'not_visible'
  | 'invalid_key'
  | 'quota_exhausted'
  | 'rate_limited'
  | 'provider_error'
  | 'timeout'
  | 'unreachable'
  | 'malformed_answer'
  /** Any other refusal (e.g. the route moved): says nothing about the key. */
  | 'unexpected_answer';

/** Results that say the key works. */
export const PASSING_RESULTS: ReadonlySet<ProbeResult> = new Set(['ok', 'not_visible']);

/**
 * `pk=KEY_HEALTH#<vendor>`, `sk=<key fingerprint>`: a key's last probe. Figures only where the
 * vendor shows them; never any key material.
 */
export interface KeyHealth {
  vendor: VendorId;
  fingerprint: string;
  keyId: string;
  state: KeyHealthState;
  probeResult: ProbeResult;
  /** ISO 8601. */
  lastProbeAt: string;
  latencyMs?: number;
  /** HTTP status of the probe's answer, when there was one. */
  httpStatus?: number;
  quotaUsed?: number;
  quotaLimit?: number;
  quotaUsedPercent?: number;
  /** ISO 8601. */
  quotaResetAt?: string;
  balance?: number;
  currency?: string;
}

export const keyHealthPk = (v: VendorId) => `KEY_HEALTH#${v}`;
/** Items outlive a day without probes (then a removed key's item goes too); `lastProbeAt` tells how old one is. */
export const KEY_HEALTH_TTL_S = 24 * 3600;

const STATES = new Set<string>(['ok', 'disabled', 'unknown']);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The `KEY_HEALTH#` items: one Query per vendor to read, one Put per probed key to write. */
export class KeyHealthStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async read(vendor: VendorId): Promise<KeyHealth[]> {
    const out: KeyHealth[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const r = await this.ddb.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keyHealthPk(vendor) },
        ExclusiveStartKey: startKey,
      }));
      for (const item of r.Items ?? []) {
        const h = fromItem(vendor, item);
        if (h) out.push(h);
      }
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  async put(h: KeyHealth, now: number): Promise<void> {
    const { vendor, fingerprint, ...rest } = h;
    await this.ddb.send(new PutCommand({
      TableName: this.table,
      Item: { pk: keyHealthPk(vendor), sk: fingerprint, ...rest, ttl: Math.floor(now / 1000) + KEY_HEALTH_TTL_S },
    }));
  }
}

function fromItem(vendor: VendorId, item: Record<string, unknown>): KeyHealth | undefined {
  const state = str(item.state);
  const lastProbeAt = str(item.lastProbeAt);
  if (!state || !STATES.has(state) || !lastProbeAt) return undefined;
  return {
    vendor,
    fingerprint: String(item.sk),
    keyId: str(item.keyId) ?? '',
    state: state as KeyHealthState,
    probeResult: (str(item.probeResult) ?? 'unexpected_answer') as ProbeResult,
    lastProbeAt,
    latencyMs: num(item.latencyMs),
    httpStatus: num(item.httpStatus),
    quotaUsed: num(item.quotaUsed),
    quotaLimit: num(item.quotaLimit),
    quotaUsedPercent: num(item.quotaUsedPercent),
    quotaResetAt: str(item.quotaResetAt),
    balance: num(item.balance),
    currency: str(item.currency),
  };
}
