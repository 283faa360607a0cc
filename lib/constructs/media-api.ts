import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  ApiKey,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestValidator,
  ResponseType,
  RestApi,
  UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES } from '../names';

export interface MediaApiProps {
  readonly handler: IFunction;
  /** Usage-plan throttle per API key. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default 'nanobot' */
  readonly restApiName?: string;
  /** @default 'prod' */
  readonly stageName?: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
  /**
   * Stage logging needs the region-wide API Gateway → CloudWatch Logs role
   * (`AWS::ApiGateway::Account`). Set false when the account already has one.
   * @default true
   */
  readonly createCloudWatchRole?: boolean;
}

export interface MediaRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
}

/** The function's routes (the shared contract); anything else is answered 404 by API Gateway without invoking the function. */
export const MEDIA_ROUTES: readonly MediaRoute[] = Object.values(ROUTES);

/**
 * Media types API Gateway treats as binary, so a Lambda answer with `isBase64Encoded: true`
 * reaches the client as raw bytes. The decision is made on the request's *first* `Accept`
 * value: the OpenAI SDK sends `application/octet-stream` for speech, browsers and curl send
 * `*\/*` — hence `*\/*`. Its side effect: every request body reaches the function
 * base64-encoded with `isBase64Encoded: true` (JSON answers with `isBase64Encoded: false` are
 * passed through as text). The specific types stay listed to document intent and keep working
 * if `*\/*` is ever dropped.
 */
export const BINARY_MEDIA_TYPES = ['audio/*', 'image/*', 'video/*', 'application/octet-stream', '*/*'] as const;

/**
 * OpenAI-shaped bodies for errors API Gateway answers itself (missing/invalid API key, usage-plan
 * throttling, unknown route), so clients see one error format whichever layer refused them.
 * `$context.error.messageString` is already a quoted JSON string.
 */
function openAiError(type: string, code: string, message?: string): { 'application/json': string } {
  const text = message === undefined ? '$context.error.messageString' : JSON.stringify(message);
  return {
    'application/json':
      `{"error":{"message":${text},"type":"${type}","code":"${code}",` +
      `"param":null,"request_id":"$context.requestId"}}`,
  };
}

/**
 * One JSON object per request. `$context.error.messageString` is already a quoted JSON string, so it
 * is appended unquoted (quoting it again would break the JSON on every gateway error).
 */
export const ACCESS_LOG_FORMAT =
  JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    extendedRequestId: AccessLogField.contextExtendedRequestId(),
    requestTime: AccessLogField.contextRequestTime(),
    ip: AccessLogField.contextIdentitySourceIp(),
    userAgent: AccessLogField.contextIdentityUserAgent(),
    // The key's id, never the key (`$context.identity.apiKey` would log the secret).
    apiKeyId: AccessLogField.contextIdentityApiKeyId(),
    httpMethod: AccessLogField.contextHttpMethod(),
    resourcePath: AccessLogField.contextResourcePath(),
    protocol: AccessLogField.contextProtocol(),
    status: AccessLogField.contextStatus(),
    responseLength: AccessLogField.contextResponseLength(),
    responseLatency: AccessLogField.contextResponseLatency(),
    integrationLatency: AccessLogField.contextIntegrationLatency(),
    integrationStatus: AccessLogField.contextIntegrationStatus(),
    errorType: AccessLogField.contextErrorResponseType(),
  }).slice(0, -1) + `,"errorMessage":${AccessLogField.contextErrorMessageString()}}`;

/**
 * REST API `nanobot`: Lambda proxy on the function's routes, every method behind an API key with a
 * usage plan, binary media for audio/images/video, JSON access logs in their own log group.
 */
export class MediaApi extends Construct {
  readonly api: RestApi;
  readonly apiKey: ApiKey;
  readonly usagePlan: UsagePlan;
  readonly accessLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: MediaApiProps) {
    super(scope, id);
    const restApiName = props.restApiName ?? 'nanobot';

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      logGroupName: `/aws/apigateway/${restApiName}-access`,
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const createCloudWatchRole = props.createCloudWatchRole ?? true;
    this.api = new RestApi(this, 'Api', {
      restApiName,
      description: 'nanobot media gateway (OpenAI-compatible /v1 routes)',
      // Callers are servers, not browsers: no CloudFront hop, and only Regional APIs can have
      // the 29 s integration timeout raised through Service Quotas.
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: [...BINARY_MEDIA_TYPES],
      cloudWatchRole: createCloudWatchRole,
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        accessLogDestination: new LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
        // Execution logs for errors only; never full request/response bodies (prompts, audio).
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
      },
    });

    // One validator for every method: API Gateway rejects a request missing a declared parameter
    // (the `{id}` of job routes) before invoking the function. Bodies carry no API Gateway model:
    // the handler validates them and answers OpenAI-shaped 400s with a request id, and with `*/*`
    // binary media API Gateway treats every body as binary, where JSON-schema models are not
    // something to rely on. Body validation applies to any model a method declares later.
    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      requestValidatorName: 'params-and-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });

    // One integration, one permission per method, no test-invoke permissions.
    const integration = new LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    for (const route of MEDIA_ROUTES) {
      const resource = this.api.root.resourceForPath(route.path);
      const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      resource.addMethod(route.method, integration, {
        apiKeyRequired: true,
        requestValidator: validator,
        requestParameters: Object.fromEntries(pathParams.map((p) => [`method.request.path.${p}`, true])),
      });
    }

    this.api.addGatewayResponse('UnknownRoute', {
      // API Gateway's name for "no such resource or method" when no IAM/authorizer is involved.
      type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      // Its own text would be "Missing Authentication Token", which misleads on a 404.
      templates: openAiError('invalid_request_error', 'not_found', 'Unknown route'),
    });
    this.api.addGatewayResponse('Default4xx', {
      type: ResponseType.DEFAULT_4XX,
      templates: openAiError('invalid_request_error', '$context.error.responseType'),
    });
    this.api.addGatewayResponse('Default5xx', {
      type: ResponseType.DEFAULT_5XX,
      templates: openAiError('server_error', '$context.error.responseType'),
    });

    this.apiKey = new ApiKey(this, 'ApiKey', {
      apiKeyName: `${restApiName}-default`,
      description: 'Default client key of the nanobot media gateway; the value is generated by API Gateway',
    });
    this.usagePlan = this.api.addUsagePlan('UsagePlan', {
      name: restApiName,
      description: 'Per-key throttling of the nanobot media gateway',
      throttle: props.throttle,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.usagePlan.addApiKey(this.apiKey);

    // cdk-nag acknowledgements, each on the narrowest construct that carries the finding.
    Validations.of(this.api.root).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every method requires an API Gateway API key bound to a throttled usage plan. The only client is the ' +
        'chatweb.ai backend using OpenAI-compatible SDKs, which send a static key header and cannot obtain ' +
        'Cognito/IAM (SigV4) credentials; a Lambda authorizer would only re-check the same static key.',
    });
    Validations.of(this.api.root).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'No end users authenticate against this API: it is a server-to-server gateway gated by API keys and ' +
        'usage plans (see APIG4); there is no Cognito user pool to authorize against.',
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAF web ACL: callers are a known backend holding an API key, abuse is bounded by the usage-plan ' +
        'throttle, and request bodies are validated before any provider call. Attach a WAFv2 ACL when the API ' +
        'is exposed to browsers or unknown clients.',
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The region-wide API Gateway logging role must be able to create and write the per-stage execution ' +
          'log groups API Gateway names itself; AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy ' +
          'for exactly that, assumable only by apigateway.amazonaws.com.',
      });
    }
  }

  /** Base URL for OpenAI-compatible clients (`baseURL`), ending in `/v1`. */
  get openAiBaseUrl(): string {
    return `${this.api.url}v1`;
  }
}
