import type { Context } from 'aws-lambda';
import { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IDEMPOTENCY_PK_PREFIX, OwnError } from '../domain';

/** How long a key is remembered: the same key and body within 24 h return the same job. */
export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** The partition of one API key's idempotency records (`sk` = `job#<sha256 of route and key>`). */
export const idempotencyPk = (apiKeyId: string | undefined) => `${IDEMPOTENCY_PK_PREFIX}${apiKeyId ?? '-'}`;
/** Longest key accepted; printable ASCII only. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export const isIdempotencyKey = (v: string) => KEY_PATTERN.test(v);

/** A request with this key is still being served (409). */
export class IdempotencyInFlight extends OwnError {}
/** This key was used with another body (422). */
export class IdempotencyKeyReused extends OwnError {}
/** The idempotency records cannot be read or written now (503): nothing was created. */
export class IdempotencyUnavailable extends OwnError {}

export interface IdempotencyScope {
  /** API Gateway API key id of the caller: records are per key (another key's `Idempotency-Key` is another key). */
  apiKeyId?: string;
  /** The creation route (`video`, `audio.generation`). */
  route: string;
  key: string;
  /** The parsed request body: the same key with another body is refused. */
  body: unknown;
  /** How long this request may still run: a record in progress for longer is taken over by a retry. */
  remainingMs: number;
}

/**
 * Idempotency-Key for job creation, on Powertools Idempotency with its DynamoDB persistence
 * layer on `nanobot-config` (`pk`/`sk`/`ttl`): the first request runs `fn` under an in-progress
 * record; a concurrent duplicate is refused; a later one gets what `fn` returned. A run that
 * throws leaves no record (the key may be used again).
 */
export class JobIdempotency {
  private readonly layers = new Map<string, DynamoDBPersistenceLayer>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** `fn`'s result (`replayed: false`), or the one remembered for this key and body (`replayed: true`). */
  async once<T extends object>(scope: IdempotencyScope, fn: () => Promise<T>): Promise<{ value: T; replayed: boolean }> {
    const ran: { value?: T; error?: unknown } = {};
    const config = new IdempotencyConfig({
      eventKeyJmesPath: '[route, key]',
      payloadValidationJmesPath: 'body',
      expiresAfterSeconds: IDEMPOTENCY_TTL_S,
      hashFunction: 'sha256',
      lambdaContext: { getRemainingTimeInMillis: () => scope.remainingMs } as Context,
    });
    const run = makeIdempotent(
      async (_data: { route: string; key: string; body: unknown }) => {
        try {
          ran.value = await fn();
          return ran.value;
        } catch (err) {
          ran.error = err;
          throw err;
        }
      },
      { persistenceStore: this.layer(scope.apiKeyId), config, keyPrefix: 'job' },
    );
    try {
      const value = (await run({ route: scope.route, key: scope.key, body: scope.body })) as T;
      return { value, replayed: !('value' in ran) };
    } catch (err) {
      return this.settleError(err, ran);
    }
  }

  private settleError<T>(err: unknown, ran: { value?: T; error?: unknown }): { value: T; replayed: boolean } {
    // What fn did stands, whatever the records said afterwards: a created job is answered, fn's own error rethrown.
    if (ran.value !== undefined) return { value: ran.value, replayed: false };
    if ('error' in ran) throw ran.error;
    const name = err instanceof Error ? err.name : '';
    if (name === 'IdempotencyAlreadyInProgressError') throw new IdempotencyInFlight('A request with this Idempotency-Key is still in progress.');
    if (name === 'IdempotencyValidationError') throw new IdempotencyKeyReused('This Idempotency-Key was used with another request body.');
    throw new IdempotencyUnavailable(`idempotency records unavailable (${name || typeof err})`);
  }

  private layer(apiKeyId: string | undefined): DynamoDBPersistenceLayer {
    const pk = idempotencyPk(apiKeyId);
    let layer = this.layers.get(pk);
    if (!layer) {
      if (this.layers.size >= 1000) this.layers.clear();
      layer = new DynamoDBPersistenceLayer({ tableName: this.tableName, keyAttr: 'pk', sortKeyAttr: 'sk', staticPkValue: pk, expiryAttr: 'ttl', awsSdkV3Client: this.client });
      this.layers.set(pk, layer);
    }
    return layer;
  }
}

/**
 * The idempotency layer's own client (it speaks raw attribute values, the store's client speaks
 * documents) on the store client's connection handler: the same short time-outs, and closing the
 * store's client closes both.
 */
export function createIdempotencyClient(endpoint: string | undefined, requestHandler: DynamoDBClientConfig['requestHandler']): DynamoDBClient {
  return new DynamoDBClient({
    ...(endpoint !== undefined ? { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 2,
    requestHandler,
  });
}
