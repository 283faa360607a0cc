import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { IDEMPOTENCY_PK_PREFIX } from '../names';

export interface ConfigTableProps {
  /** @default 'nanobot-config' */
  readonly tableName?: string;
  /**
   * The table holds provider health and job records (which key created a video), so by default it
   * outlives the stack: deleting the stack leaves the table and its data in place.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The only actions the gateway performs on its table items: point reads and writes, atomic
 * counters and conditional claims (UpdateItem), and the rolling-window / key-state Query.
 * No Scan, no batch operations, no table management.
 */
export const CONFIG_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:Query',
] as const;

/**
 * DeleteItem, only on Idempotency-Key records (partition key `IDEMPOTENCY#…`, by the
 * `dynamodb:LeadingKeys` condition): Powertools Idempotency deletes an in-progress record when the
 * creation it guarded made nothing, so the key can be used again. Nothing else is ever deleted.
 */
export const IDEMPOTENCY_DELETE_ACTIONS = ['dynamodb:DeleteItem'] as const;

/**
 * DynamoDB table `nanobot-config`: provider-health minute buckets and status items
 * (`pk=PROVIDER_HEALTH#<provider>`), job records, all keyed `pk`/`sk`, expiring through `ttl`
 * (epoch seconds). On-demand billing: traffic is spiky and small.
 */
export class ConfigTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: ConfigTableProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      tableName: props.tableName ?? 'nanobot-config',
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      // Retained data also deserves protection from a stray `delete-table`; turn it off first
      // when you really mean to drop the table (README, "What survives cdk destroy").
      deletionProtection: true,
    });
  }

  /**
   * Exactly {@link CONFIG_TABLE_ACTIONS} on this table's ARN (no indexes exist, so none granted), and
   * {@link IDEMPOTENCY_DELETE_ACTIONS} on the idempotency records only.
   */
  grantGatewayAccess(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...CONFIG_TABLE_ACTIONS], resources: [this.table.tableArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...IDEMPOTENCY_DELETE_ACTIONS],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${IDEMPOTENCY_PK_PREFIX}*`] } },
      }),
    );
  }
}
