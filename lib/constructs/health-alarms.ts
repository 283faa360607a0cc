import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  IAlarm,
  IMetric,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { ROTATED_LOG_LINES_METRIC, ROTATED_TERM } from '../names';
import { ProviderMetrics } from '../provider-metrics';

export interface HealthAlarmsProps {
  readonly function: IFunction;
  /** The function's log group; the `"rotated"` metric filter is attached to it. */
  readonly logGroup: ILogGroup;
  readonly metrics: ProviderMetrics;
  /** Rotations (EMF sum, and rotation log lines) within 5 minutes that alarm. */
  readonly rotationThreshold: number;
  /** @default 0.5 */
  readonly failureRatioThreshold?: number;
  /** @default 10 */
  readonly failureRatioMinRequests?: number;
  /**
   * p95 time to first byte (ms, EMF `TimeToFirstByte`) that alarms, per provider. Time to first
   * byte, not duration: a streamed answer (minutes of audio) is long by nature.
   * @default 20000
   */
  readonly latencyP95Ms?: number;
  /** Requests that fell back to another provider (EMF `Fallbacks`, all providers) within 5 minutes that alarm. @default 20 */
  readonly fallbackThreshold?: number;
  /** Subscribed to the topic when set (the recipient must confirm the subscription email). */
  readonly alarmEmail?: string;
  /** Alarm names start with this. @default 'nanobot' */
  readonly alarmPrefix?: string;
  /** @default 'nanobot-alarms' */
  readonly topicName?: string;
}

/**
 * CloudWatch alarms on key rotation and provider health, all notifying one SNS topic (on ALARM and
 * on OK). Every alarm treats missing data as not breaching: Powertools emits nothing when there is
 * no traffic, and silence is not an incident.
 */
export class HealthAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  /** Count of `"rotated"` log lines, from the metric filter. */
  readonly rotatedLogLines: Metric;

  private readonly prefix: string;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: HealthAlarmsProps) {
    super(scope, id);
    this.prefix = props.alarmPrefix ?? 'nanobot';
    const m = props.metrics;

    // CloudWatch publishes an alarm's notification as the service principal, on behalf of the
    // alarm. Both grants below hold only for this account's alarms named with our prefix, so no
    // other account's alarm can use CloudWatch to publish here (confused deputy).
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const stack = Stack.of(this);
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${this.prefix}-*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };

    // Customer-managed key: CloudWatch can publish to an encrypted topic only if the key policy
    // lets cloudwatch.amazonaws.com use the key, which the AWS-managed aws/sns key never does.
    const key = new Key(this, 'TopicKey', {
      description: 'Encrypts the nanobot alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      topicName: props.topicName ?? 'nanobot-alarms',
      displayName: 'nanobot alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL writes an AWS::SNS::TopicPolicy, which replaces the topic's default policy: without
    // this Allow, the policy holds only the TLS Deny and every alarm notification is refused.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.action = new SnsAction(this.topic);

    // --- Key rotation frequency: two independent signals --------------------------------------
    this.add('KeyRotations', {
      metric: m.total('KeyRotations', 'key rotations (all providers)'),
      threshold: props.rotationThreshold,
      description:
        `At least ${props.rotationThreshold} key rotations in 5 minutes across all providers (EMF KeyRotations). ` +
        'Keys are being rate limited faster than the pools absorb it: add keys to the pool or raise vendor limits. ' +
        'Dashboard "nanobot" shows which provider; the Logs Insights widget lists the rotated lines.',
    });

    // The same signal from the logs: survives a metrics regression (e.g. a dimension change that
    // would leave the EMF alarm watching an empty series) and needs no EMF parsing at all.
    const filter = new MetricFilter(this, 'RotatedFilter', {
      logGroup: props.logGroup,
      filterPattern: FilterPattern.anyTerm(ROTATED_TERM),
      metricNamespace: m.namespace,
      metricName: ROTATED_LOG_LINES_METRIC,
      metricValue: '1',
    });
    this.rotatedLogLines = filter.metric({ statistic: Stats.SUM, period: m.period });
    this.add('RotatedLogLines', {
      metric: this.rotatedLogLines,
      threshold: props.rotationThreshold,
      description:
        `At least ${props.rotationThreshold} "rotated" log lines in 5 minutes in the function's log group (metric filter). ` +
        `aws logs tail ${props.logGroup.logGroupName} --follow --filter-pattern '"${ROTATED_TERM}"' shows them.`,
    });

    // --- Pools that can no longer serve ---------------------------------------------------------
    this.add('AllKeysExhausted', {
      metric: m.total('AllKeysExhausted', 'all keys exhausted (all providers)'),
      threshold: 1,
      description:
        'A request found every key of a provider cooling down or disabled (clients got 429/503). ' +
        'Check the pool size and vendor quotas; PROVIDER_HEALTH items in nanobot-config show which provider.',
    });
    this.add('KeysDisabled', {
      metric: m.total('KeysDisabled', 'keys disabled (all providers)'),
      threshold: 1,
      description:
        'A key was disabled as invalid or out of quota (401/insufficient_quota/exhausted balance). ' +
        'Replace or top it up, then update the nanobot/provider-keys secret.',
    });

    // --- Fallback chains: served, but not by the provider the client asked for ---------------------
    const fallbacks = props.fallbackThreshold ?? 20;
    this.add('Fallbacks', {
      metric: m.total('Fallbacks', 'fallbacks (all providers)'),
      threshold: fallbacks,
      description:
        `At least ${fallbacks} requests fell back to another provider in 5 minutes (EMF Fallbacks, on the provider that could not serve). ` +
        'Clients are served by the alternative (a different voice or image model): look for "fell back" log lines and the primary\'s STATUS.',
    });

    // --- Provider failure ratio, one alarm per provider ----------------------------------------
    const ratio = props.failureRatioThreshold ?? 0.5;
    const minRequests = props.failureRatioMinRequests ?? 10;
    for (const provider of m.providers) {
      this.add(`FailureRatio-${provider}`, {
        metric: m.failureRatio(provider, minRequests),
        threshold: ratio,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        description:
          `More than ${Math.round(ratio * 100)}% of ${provider} requests failed within 5 minutes ` +
          `(counted only once it has at least ${minRequests} requests). Failures include all-keys-limited 429s, ` +
          'upstream 5xx after retries and deadline 504s.',
      });
    }

    // --- The function itself ------------------------------------------------------------------
    this.add('FunctionErrors', {
      metric: props.function.metricErrors({ period: m.period, statistic: Stats.SUM }),
      threshold: 1,
      description:
        'The nanobot function threw or timed out. The handler turns every expected failure into an HTTP ' +
        'answer, so any Lambda error is a bug or a timeout: look for ERROR lines in /aws/lambda/nanobot.',
    });
    this.add('FunctionThrottles', {
      metric: props.function.metricThrottles({ period: m.period, statistic: Stats.SUM }),
      threshold: 1,
      description: 'Lambda throttled nanobot invocations (account or reserved concurrency exhausted); clients got 5xx.',
    });

    // --- Time to first byte, one alarm per provider --------------------------------------------
    // Not the function's Duration: a streamed answer lasts as long as its audio, so duration says
    // nothing about a slow provider. The time until the client gets its first byte does.
    const ttfbMs = props.latencyP95Ms ?? 20_000;
    for (const provider of m.providers) {
      this.add(`TtfbP95-${provider}`, {
        metric: m.metric('TimeToFirstByte', provider, Stats.p(95)),
        threshold: ttfbMs,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        description:
          `p95 time to first byte of ${provider} above ${ttfbMs} ms in 2 of the last 3 5-minute periods ` +
          '(EMF TimeToFirstByte: from the request to the first byte of the answer, rotations and waits for keys ' +
          'included). Dashboard "nanobot" shows TTFB and UpstreamLatency per provider.',
      });
    }
  }

  private add(
    id: string,
    opts: {
      metric: IMetric;
      threshold: number;
      description: string;
      comparisonOperator?: ComparisonOperator;
      evaluationPeriods?: number;
      datapointsToAlarm?: number;
    },
  ): IAlarm {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.prefix}-${kebab(id)}`,
      alarmDescription: opts.description,
      metric: opts.metric,
      threshold: opts.threshold,
      comparisonOperator: opts.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: opts.evaluationPeriods ?? 1,
      datapointsToAlarm: opts.datapointsToAlarm ?? 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}

function kebab(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
