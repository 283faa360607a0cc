import { CfnOutput, Duration, Stack, StackProps, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ConfigTable } from './constructs/config-table';
import { HealthAlarms } from './constructs/health-alarms';
import { HealthDashboard } from './constructs/health-dashboard';
import { MediaApi } from './constructs/media-api';
import { MediaFunction } from './constructs/media-function';
import { ProbeAlarms } from './constructs/probe-alarms';
import { addProbeWidgets } from './constructs/probe-dashboard';
import { ProbeSchedule } from './constructs/probe-schedule';
import { ProviderKeys } from './constructs/provider-keys';
import { PHYSICAL_NAMES } from './names';
import { ProbeMetrics } from './probe-metrics';
import { ProviderMetrics } from './provider-metrics';
import { DEFAULT_SETTINGS, NanobotSettings } from './settings';

export interface NanobotStackProps extends StackProps {
  /** Deploy-time knobs (usually from CDK context, see lib/settings.ts). @default DEFAULT_SETTINGS */
  readonly settings?: NanobotSettings;
  /** Handler entry file, for tests. @default lambda/handler.ts */
  readonly handlerEntry?: string;
}

/**
 * The nanobot media gateway: table + key secret → function → API, watched by alarms and a
 * dashboard. Environment-agnostic (no `env`): synthesises offline, deploys to whichever
 * account/region the CLI credentials point at.
 */
export class NanobotStack extends Stack {
  readonly table: ConfigTable;
  readonly providerKeys: ProviderKeys;
  readonly media: MediaFunction;
  readonly api: MediaApi;
  readonly alarms: HealthAlarms;
  readonly dashboard: HealthDashboard;
  readonly probes: ProbeSchedule;
  readonly probeAlarms: ProbeAlarms;

  constructor(scope: Construct, id: string, props: NanobotStackProps = {}) {
    super(scope, id, props);
    const settings = props.settings ?? DEFAULT_SETTINGS;
    Tags.of(this).add('project', 'nanobot');

    this.table = new ConfigTable(this, 'ConfigTable', { tableName: PHYSICAL_NAMES.table });
    this.providerKeys = new ProviderKeys(this, 'ProviderKeys', { secretName: PHYSICAL_NAMES.secret });
    this.media = new MediaFunction(this, 'MediaFunction', {
      functionName: PHYSICAL_NAMES.function,
      table: this.table,
      providerKeys: this.providerKeys,
      entry: props.handlerEntry,
      reservedConcurrentExecutions: settings.reservedConcurrency,
      // The function outlives the integration by 10 s: it is never killed while API Gateway still listens.
      timeout: Duration.seconds(settings.integrationTimeoutSeconds + 10),
      requestDeadline: Duration.seconds(settings.requestDeadlineSeconds),
    });
    this.api = new MediaApi(this, 'MediaApi', {
      restApiName: PHYSICAL_NAMES.api,
      handler: this.media.function,
      throttle: { rateLimit: settings.throttleRate, burstLimit: settings.throttleBurst },
      integrationTimeout: Duration.seconds(settings.integrationTimeoutSeconds),
      quota:
        settings.usageQuotaLimit !== undefined && settings.usageQuotaPeriod !== undefined
          ? { limit: settings.usageQuotaLimit, period: settings.usageQuotaPeriod }
          : undefined,
    });

    // The key probe: the API function's bundle and role, its own function, on an EventBridge schedule.
    this.probes = new ProbeSchedule(this, 'ProbeSchedule', {
      api: this.media.function,
      table: this.table,
      providerKeys: this.providerKeys,
      interval: Duration.minutes(settings.probeIntervalMinutes),
      quotaWarnPercent: settings.keyQuotaAlarmPercent,
      functionName: PHYSICAL_NAMES.probeFunction,
      ruleName: PHYSICAL_NAMES.probeRule,
    });

    const metrics = new ProviderMetrics();
    this.alarms = new HealthAlarms(this, 'HealthAlarms', {
      function: this.media.function,
      logGroup: this.media.logGroup,
      metrics,
      rotationThreshold: settings.rotationAlarmThreshold,
      failureRatioThreshold: settings.failureRatioThreshold,
      failureRatioMinRequests: settings.failureRatioMinRequests,
      latencyP95Ms: settings.latencyP95AlarmMs,
      alarmEmail: settings.alarmEmail,
      alarmPrefix: PHYSICAL_NAMES.alarmPrefix,
      topicName: PHYSICAL_NAMES.alarmTopic,
    });
    const probeMetrics = new ProbeMetrics();
    this.probeAlarms = new ProbeAlarms(this, 'ProbeAlarms', {
      probe: this.probes.function,
      metrics: probeMetrics,
      topic: this.alarms.topic,
      quotaPercent: settings.keyQuotaAlarmPercent,
      alarmPrefix: PHYSICAL_NAMES.alarmPrefix,
    });
    this.dashboard = new HealthDashboard(this, 'HealthDashboard', {
      dashboardName: PHYSICAL_NAMES.dashboard,
      function: this.media.function,
      logGroup: this.media.logGroup,
      metrics,
      alarms: [...this.alarms.alarms, ...this.probeAlarms.alarms],
      rotatedLogLines: this.alarms.rotatedLogLines,
    });
    addProbeWidgets(this.dashboard.dashboard, { metrics: probeMetrics, probe: this.probes.function, logGroup: this.probes.logGroup });

    new CfnOutput(this, 'ApiBaseUrl', {
      description: 'OpenAI-compatible base URL (baseURL for the openai SDK)',
      value: this.api.openAiBaseUrl,
    });
    new CfnOutput(this, 'ApiKeyId', {
      description: 'Value: aws apigateway get-api-key --include-value --query value --output text --api-key <id>',
      value: this.api.apiKey.keyId,
    });
    new CfnOutput(this, 'ProviderKeysSecretArn', {
      description: 'Put the key pools here: aws secretsmanager put-secret-value --secret-id <arn> --secret-string file://keys.json',
      value: this.providerKeys.secret.secretArn,
    });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'Subscribe more endpoints here, or deploy with -c alarmEmail=you@example.com',
      value: this.alarms.topic.topicArn,
    });
    new CfnOutput(this, 'DashboardName', { value: PHYSICAL_NAMES.dashboard });
  }
}
