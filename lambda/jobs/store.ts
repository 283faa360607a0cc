import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { JobObject, JobRecord, JobStatus } from '../domain';

/** Job records live about a week (`ttl`, epoch seconds). */
export const JOB_TTL_S = 7 * 24 * 3600;

const PREFIX: Record<JobObject, string> = { video: 'video_', 'audio.generation': 'audiogen_' };

/** Opaque ids: a type prefix and 128 random bits — nothing about keys, providers or time. */
export function newJobId(object: JobObject): string {
  return `${PREFIX[object]}${randomBytes(16).toString('hex')}`;
}

export function isJobId(object: JobObject, id: string): boolean {
  return new RegExp(`^${PREFIX[object]}[0-9a-f]{32}$`).test(id);
}

export const jobPk = (id: string) => `JOB#${id}`;

/** `pk=JOB#<id>`, `sk=JOB` items in nanobot-config. */
export class JobStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Stores a new job. Ids are 128 random bits, so an existing item with this id can only be our
   * own earlier attempt (a Put that succeeded but timed out and was retried): that is success.
   */
  async createOnce(job: JobRecord): Promise<void> {
    try {
      await this.ddb.send(new PutCommand({
        TableName: this.table,
        Item: { pk: jobPk(job.id), sk: 'JOB', ...job, ttl: Math.floor(job.createdAt / 1000) + JOB_TTL_S },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      throw err;
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { pk: jobPk(id), sk: 'JOB' }, ConsistentRead: true }));
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, ttl: _ttl, ...job } = r.Item;
    return job as JobRecord;
  }

  /**
   * Writes a refreshed job only if its stored status is still `from`: when two containers poll the
   * same job, exactly one records the transition (and so counts a terminal outcome once).
   */
  async transition(job: JobRecord, from: JobStatus): Promise<boolean> {
    try {
      await this.ddb.send(new PutCommand({
        TableName: this.table,
        Item: { pk: jobPk(job.id), sk: 'JOB', ...job, ttl: Math.floor(job.createdAt / 1000) + JOB_TTL_S },
        ConditionExpression: '#s = :from',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':from': from },
      }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * Claims the next provider poll of a job for this container: moves `lastRefreshAt` from the
   * value this container read to `now`, only if no other container has moved it since. Exactly one
   * of the containers that read the same record wins; the others serve the record.
   */
  async claimRefresh(id: string, seen: number, now: number): Promise<boolean> {
    try {
      await this.ddb.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: jobPk(id), sk: 'JOB' },
        UpdateExpression: 'SET lastRefreshAt = :now',
        ConditionExpression: 'lastRefreshAt = :seen',
        ExpressionAttributeValues: { ':now': now, ':seen': seen },
      }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
