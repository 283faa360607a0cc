import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { KeyLease } from './key-lease';

/**
 * Lifting a fleet-wide disable. Every other write to a `KEY_STATE#<vendor>` item only extends a
 * deadline, so that an instance with older news can never shorten the fleet's; a probe success is
 * the one exception, and it is ordered by time instead: it removes `disabledUntil` only if that
 * disable was learnt (`disabledAt`) before the probe started (`asOf`), and leaves `enabledAt =
 * asOf` behind. Readers lift their own copies of older disables when they see `enabledAt`; a
 * disable learnt after the probe started is newer news and survives both. The item's `ttl` is
 * left alone: it outlives the removed disable's deadline, so the marker does too.
 */
export async function reenableInFleet(
  ddb: DynamoDBDocumentClient,
  table: string,
  r: { pk: string; lease: KeyLease; asOf: number; now: number },
): Promise<boolean> {
  try {
    await ddb.send(new UpdateCommand({
      TableName: table,
      Key: { pk: r.pk, sk: r.lease.fingerprint },
      UpdateExpression: 'SET enabledAt = :asOf, keyId = :id, updatedAt = :now REMOVE disabledUntil, #reason, disabledAt',
      ConditionExpression: 'attribute_exists(disabledUntil) AND (attribute_not_exists(disabledAt) OR disabledAt < :asOf)',
      ExpressionAttributeNames: { '#reason': 'reason' },
      ExpressionAttributeValues: { ':asOf': r.asOf, ':id': r.lease.id, ':now': r.now },
    }));
    return true;
  } catch (err) {
    // No disable there, or one learnt after the probe started: nothing to lift.
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}
