import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { Architecture, CfnFunction, Code, CodeConfig, Function as LambdaFunction, IFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, PROBE_ENV, PROBE_HANDLER_EXPORT, SERVICE_NAME } from '../names';
import { ConfigTable } from './config-table';
import { ProviderKeys } from './provider-keys';

export interface ProbeScheduleProps {
  /** The API function: its bundle (the probe is its second export) and its role are shared. */
  readonly api: IFunction;
  readonly table: ConfigTable;
  readonly providerKeys: ProviderKeys;
  /** Time between two runs (EventBridge rate, whole minutes). */
  readonly interval: Duration;
  /** Quota use (%) from which status calls a key running out (both functions read it). */
  readonly quotaWarnPercent: number;
  /**
   * One run's budget (`PROBE_RUN_BUDGET_MS`): no probe starts after it. The function's timeout is
   * 10 s above it, for the last writes; both stay well under the interval, so runs never overlap.
   * @default Duration.seconds(20)
   */
  readonly runBudget?: Duration;
  /** @default 'nanobot-probe' (log group `/aws/lambda/<name>`) */
  readonly functionName?: string;
  /** @default 'nanobot-probe-schedule' */
  readonly ruleName?: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * The scheduled key probe: an EventBridge rule invokes a function of its own — the same bundle
 * as the API function (`index.probeHandler`), its own log group, timeout and concurrency, so a run
 * never occupies a container that serves requests — once per interval. Each run makes one free,
 * read-only call per configured key.
 */
export class ProbeSchedule extends Construct {
  readonly function: LambdaFunction;
  readonly logGroup: LogGroup;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: ProbeScheduleProps) {
    super(scope, id);
    const functionName = props.functionName ?? 'nanobot-probe';
    const budget = props.runBudget ?? Duration.seconds(20);
    const timeout = Duration.seconds(budget.toSeconds() + 10);
    if (timeout.toSeconds() * 2 > props.interval.toSeconds()) {
      throw new Error(`${this.node.path}: a probe run (timeout ${timeout.toSeconds()} s) must stay under half the interval`);
    }
    const role = props.api.role;
    if (!role) throw new Error(`${this.node.path}: the API function has no role to share`);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The API function's role already reads the key secret and writes the table, which is all a
    // probe does besides logging; one role keeps the grants in one place.
    this.logGroup.grantWrite(role);

    const probeEnv = {
      [PROBE_ENV.intervalMs]: String(props.interval.toMilliseconds()),
      [PROBE_ENV.quotaWarnPercent]: String(props.quotaWarnPercent),
    };
    this.function = new LambdaFunction(this, 'Function', {
      functionName,
      description: 'nanobot key probe: one free, read-only account call per provider key, on a schedule',
      code: sameBundleAs(this, props.api),
      handler: `index.${PROBE_HANDLER_EXPORT}`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      // Waits on HTTP and signs a few JWTs: the smallest size with a fast cold start.
      memorySize: 256,
      timeout,
      role,
      logGroup: this.logGroup,
      // A failed run is not retried: the next one comes within the interval anyway.
      retryAttempts: 0,
      environment: {
        TABLE_NAME: props.table.table.tableName,
        PROVIDER_KEYS_SECRET_ID: props.providerKeys.secret.secretArn,
        PROBE_RUN_BUDGET_MS: String(budget.toMilliseconds()),
        ...probeEnv,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    // The API function's status reads the probes' results: it needs the same period and threshold.
    for (const [k, v] of Object.entries(probeEnv)) (props.api as LambdaFunction).addEnvironment(k, v);

    this.rule = new Rule(this, 'Rule', {
      ruleName: props.ruleName ?? 'nanobot-probe-schedule',
      description: `Runs the nanobot key probe every ${props.interval.toMinutes()} minute(s)`,
      schedule: Schedule.rate(props.interval),
      // A run EventBridge cannot deliver at once is dropped, not queued: the next one is due soon.
      targets: [new LambdaTarget(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x with the API function whose bundle it runs (index.probeHandler): the ES module entry ' +
        'with top-level-await init is verified on 22 only; moving to 24 is one change for both functions.',
    });
  }
}

/**
 * The API function's own code asset (bucket and key of its bundle), not a second bundling: the
 * probe runs exactly the code that serves requests, and a deploy or hotswap updates both. The key
 * is the bundle's content hash, so new code is a new key (no object version to track).
 */
function sameBundleAs(scope: Construct, api: IFunction): Code {
  const code = (api.node.defaultChild as CfnFunction).code as CfnFunction.CodeProperty;
  if (!code.s3Bucket || !code.s3Key) throw new Error(`${scope.node.path}: the API function's code is not an S3 asset`);
  return new SharedBundle(code.s3Bucket, code.s3Key);
}

class SharedBundle extends Code {
  readonly isInline = false;
  constructor(
    private readonly bucketName: string,
    private readonly objectKey: string,
  ) {
    super();
  }
  bind(): CodeConfig {
    return { s3Location: { bucketName: this.bucketName, objectKey: this.objectKey } };
  }
}
