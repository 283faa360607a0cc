import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ProviderName } from '../domain';
import type { PoolCounts } from '../keys/key-lease';
import { COUNTER_ATTRS, Counters, emptyCounters, HISTOGRAMS, minuteOf } from './counters';
import { meanQueueLength, WindowSummary } from './status';

export const WINDOW_MINUTES = 5;
/** BUCKET items live about an hour (TTL, epoch seconds); reads never rely on TTL, they bound the sk range. */
export const BUCKET_TTL_S = 3600;

export const healthPk = (p: ProviderName) => `PROVIDER_HEALTH#${p}`;
export const bucketSk = (minute: string) => `BUCKET#${minute}`;

/** First minute of the 5-minute window ending at `now` (the current minute and the four before it). */
export function windowStartMinute(now: number): string {
  return minuteOf(now - (WINDOW_MINUTES - 1) * 60_000);
}

/** How much of the window ending at `now` has passed: from the start of its first minute (4 to 5 minutes). */
export function windowElapsedMs(now: number): number {
  return now - Date.parse(`${windowStartMinute(now)}:00Z`);
}

export interface StoreClientOptions {
  endpoint?: string;
  region?: string;
}

/**
 * DynamoDB client for the health and job items: short timeouts and few retries, because nothing
 * on a user's path may wait on it. Local endpoints get a fixed region and dummy credentials.
 */
export function createDocumentClient(opts: StoreClientOptions = {}): DynamoDBDocumentClient {
  const local = opts.endpoint !== undefined;
  const client = new DynamoDBClient({
    ...(local ? { endpoint: opts.endpoint, region: opts.region ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 2,
    // throwOnRequestTimeout: without it the Node handler only warns at requestTimeout and a hung
    // store would hang the flush (and, in Lambda, the post-response extension) indefinitely.
    requestHandler: { connectionTimeout: 500, requestTimeout: 1500, throwOnRequestTimeout: true },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** `PROVIDER_HEALTH#<provider>` items in `nanobot-config` (the README's DynamoDB section). */
export class HealthStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Adds a minute's counters to its BUCKET item with atomic ADDs, so many writers merge. ADD is
   * not idempotent, so each write carries the writer's sequence number (`w_<writer>`): a write
   * whose outcome was unknown is re-sent with the same number and applied at most once.
   */
  async addBucket(provider: ProviderName, minute: string, c: Counters, writer: string, seq: number): Promise<void> {
    const names: Record<string, string> = { '#ttl': 'ttl', '#w': `w_${writer}` };
    const values: Record<string, number> = { ':seq': seq };
    const adds: string[] = [];
    const add = (attr: string, v: number, always: boolean) => {
      if (v === 0 && !always) return;
      names[`#${attr}`] = attr;
      values[`:${attr}`] = v;
      adds.push(`#${attr} :${attr}`);
    };
    // The documented counters are always present (ADD 0 creates them); histogram buckets only when used.
    for (const k of COUNTER_ATTRS) add(k, c[k], true);
    for (const h of HISTOGRAMS) h.attrs.forEach((attr, i) => add(attr, c[h.field][i], false));
    values[':ttl'] = Math.floor(Date.parse(`${minute}:00Z`) / 1000) + 60 + BUCKET_TTL_S;
    try {
      await this.ddb.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: healthPk(provider), sk: bucketSk(minute) },
        UpdateExpression: `ADD ${adds.join(', ')} SET #ttl = if_not_exists(#ttl, :ttl), #w = :seq`,
        ConditionExpression: 'attribute_not_exists(#w) OR #w < :seq',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }));
    } catch (err) {
      // Already applied (an earlier attempt with this sequence number got through): done.
      if (err instanceof ConditionalCheckFailedException) return;
      throw err;
    }
  }

  /** Sums the BUCKET items of the window ending at `now`: one Query, bounded by sort key. */
  async readWindow(provider: ProviderName, now: number): Promise<Counters> {
    const sum = emptyCounters();
    let startKey: Record<string, unknown> | undefined;
    do {
      const r = await this.ddb.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': healthPk(provider), ':from': bucketSk(windowStartMinute(now)), ':to': bucketSk(minuteOf(now)) },
        ExclusiveStartKey: startKey,
      }));
      for (const item of r.Items ?? []) {
        for (const k of COUNTER_ATTRS) sum[k] += num(item[k]);
        for (const h of HISTOGRAMS) h.attrs.forEach((attr, i) => (sum[h.field][i] += num(item[attr])));
      }
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    return sum;
  }

  async putStatus(provider: ProviderName, s: WindowSummary, now: number, keys?: PoolCounts): Promise<void> {
    await this.ddb.send(new PutCommand({
      TableName: this.table,
      Item: {
        pk: healthPk(provider),
        sk: 'STATUS',
        status: s.status,
        reason: s.reason,
        successRate: s.successRate ?? undefined,
        p50Ms: s.p50Ms ?? undefined,
        p95Ms: s.p95Ms ?? undefined,
        ttfbP50Ms: s.ttfbP50Ms ?? undefined,
        ttfbP95Ms: s.ttfbP95Ms ?? undefined,
        queued: s.queued,
        queueP95Ms: s.queueP95Ms ?? undefined,
        queueRefused: s.queueRefused,
        queueMeanLength: meanQueueLength(s, windowElapsedMs(now)),
        requests: s.requests,
        successes: s.successes,
        failures: s.failures,
        windowStart: `${windowStartMinute(now)}:00Z`,
        updatedAt: new Date(now).toISOString(),
        ...(keys ? { keysTotal: keys.total, keysAvailable: keys.available, keysCooling: keys.cooling, keysDisabled: keys.disabled } : {}),
      },
    }));
  }

  async getStatus(provider: ProviderName): Promise<Record<string, unknown> | undefined> {
    const r = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { pk: healthPk(provider), sk: 'STATUS' } }));
    return r.Item;
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
