import * as path from 'path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../names';
import { ConfigTable } from './config-table';
import { ProviderKeys } from './provider-keys';

export interface MediaFunctionProps {
  readonly table: ConfigTable;
  readonly providerKeys: ProviderKeys;
  /** @default 'nanobot' (log group `/aws/lambda/<name>`) */
  readonly functionName?: string;
  /**
   * ES module entry: it awaits init at top level (provider keys from the secret, the post-response
   * extension's registration), which only an ES module can do.
   * @default lambda/index.mts at the repository root
   */
  readonly entry?: string;
  /**
   * 512 MB: the work is waiting on upstream HTTP, so more memory buys no speed there, but Lambda
   * allots CPU in proportion to memory and cold start (module init, TLS handshakes, JWT signing)
   * is CPU-bound. 512 MB on arm64 keeps it short at about half the GB-second cost of 1 GB; media
   * is relayed as it streams (one chunk in memory per request), so memory is never tight.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Above the API Gateway integration timeout (answers stream, so that is minutes, not 29 s):
   * Lambda never kills a response API Gateway is still relaying.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Upper bound of one request's time to its first byte (`REQUEST_DEADLINE_MS`): attempts, backoff
   * and waits for keys; the handler uses min(remaining time − margin, this). A streamed body after
   * that is bounded by the idle timeout and the function timeout.
   * @default Duration.seconds(26)
   */
  readonly requestDeadline?: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Concurrent executions reserved for the function, which are also its ceiling.
   * @default none (the function shares the account's unreserved concurrency)
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The `nanobot` Lambda function (Node.js 22, arm64, esbuild-bundled) with its own log group and a
 * role that can do exactly three things: write its logs, read/write its table, read the key secret.
 */
export class MediaFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: MediaFunctionProps) {
    super(scope, id);
    const functionName = props.functionName ?? 'nanobot';
    const timeout = props.timeout ?? Duration.seconds(30);
    const deadline = props.requestDeadline ?? Duration.seconds(26);
    if (deadline.toMilliseconds() >= timeout.toMilliseconds()) {
      throw new Error(`${this.node.path}: requestDeadline must be shorter than the function timeout`);
    }

    // Created here, not by Lambda on first invocation, so retention is finite and the metric
    // filter / Logs Insights widget have a group to attach to. Logs are diagnostics, not state:
    // they go with the stack, and a redeploy does not collide with a left-over group.
    this.logGroup = new LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A hand-made role instead of the default one: the default attaches the AWS managed
    // AWSLambdaBasicExecutionRole (logs:CreateLogGroup on *), which this function does not need.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${functionName} media gateway function`,
    });
    this.logGroup.grantWrite(role);
    props.table.grantGatewayAccess(role);
    props.providerKeys.grantReadValue(role);

    this.function = new NodejsFunction(this, 'Function', {
      functionName,
      description: 'nanobot media gateway: TTS, images, audio and video through rotating provider key pools',
      entry: props.entry ?? path.join(__dirname, '..', '..', 'lambda', 'index.mts'),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role,
      logGroup: this.logGroup,
      environment: {
        TABLE_NAME: props.table.table.tableName,
        PROVIDER_KEYS_SECRET_ID: props.providerKeys.secret.secretArn,
        REQUEST_DEADLINE_MS: String(deadline.toMilliseconds()),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        minify: true,
        sourceMap: true,
        // Stack traces need file:line, not the sources themselves; keeps the zip small.
        sourcesContent: false,
        // index.mjs, so the entry can use top-level await; prefer the ESM builds of dependencies.
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        // A CommonJS dependency that require()s a Node built-in needs a real `require` in ESM.
        banner: "import{createRequire as __nbCreateRequire}from'module';const require=__nbCreateRequire(import.meta.url);",
        // @aws-sdk/* stays external (the Node.js 22 runtime ships SDK v3); Powertools is bundled,
        // and of Parameters only the `secrets` entry point is imported.
      },
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x deliberately: the handler (ES module with top-level-await init, in-process ' +
        'post-response extension) is verified on 22, while Node.js 24 on Lambda stops waiting for pending promises ' +
        'after the handler returns and drops callback handlers, so moving needs its own verification. Node.js 22 is ' +
        'maintained until April 2027.',
    });
  }
}
