import { Match } from 'aws-cdk-lib/assertions';
import { BINARY_MEDIA_TYPES, MEDIA_ROUTES } from '../../lib/constructs/media-api';
import { resourcesOf, Synthesized, synthNanobot } from './synth';
import { createRuntime } from '../../lambda/app/runtime';
import { realTime } from '../../lambda/app/gateway';
import { loadConfig } from '../../lambda/config/env';
import { MemoryLog } from '../../lambda/observability/logger';

let s: Synthesized;
beforeAll(() => {
  // Strings, as `cdk deploy -c throttleRate=7 -c throttleBurst=11` passes them.
  s = synthNanobot({ context: { throttleRate: '7', throttleBurst: '11' } });
});

/** Full path of every ApiGateway::Resource, rebuilt from PathPart/ParentId. */
function resourcePaths(): Map<string, string> {
  const resources = resourcesOf(s.template, 'AWS::ApiGateway::Resource');
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const cached = paths.get(id);
    if (cached) return cached;
    const r = resources[id].Properties;
    const parent = r.ParentId as { Ref?: string; 'Fn::GetAtt'?: string[] };
    const parentPath = parent.Ref && resources[parent.Ref] ? pathOf(parent.Ref) : '';
    const full = `${parentPath}/${String(r.PathPart)}`;
    paths.set(id, full);
    return full;
  };
  for (const id of Object.keys(resources)) pathOf(id);
  return paths;
}

/** `METHOD /path` → method properties. */
function methods(): Map<string, Record<string, unknown>> {
  const paths = resourcePaths();
  const out = new Map<string, Record<string, unknown>>();
  for (const m of Object.values(resourcesOf(s.template, 'AWS::ApiGateway::Method'))) {
    const ref = (m.Properties.ResourceId as { Ref: string }).Ref;
    out.set(`${String(m.Properties.HttpMethod)} ${paths.get(ref) ?? '/'}`, m.Properties);
  }
  return out;
}

describe('MediaApi', () => {
  it('is a Regional REST API named nanobot that returns audio, images and video as bytes', () => {
    s.template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    s.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Name: 'nanobot',
      EndpointConfiguration: { Types: ['REGIONAL'] },
      BinaryMediaTypes: [...BINARY_MEDIA_TYPES],
    });
    expect(BINARY_MEDIA_TYPES).toEqual(
      expect.arrayContaining(['audio/*', 'image/*', 'video/*', 'application/octet-stream', '*/*']),
    );
  });

  it("has exactly the function's routes, each a Lambda proxy", () => {
    const found = methods();
    expect([...found.keys()].sort()).toEqual(MEDIA_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect([...found.keys()].sort()).toEqual(
      [
        'GET /v1/audio/generations/{id}',
        'GET /v1/health',
        'GET /v1/videos/{id}',
        'GET /v1/videos/{id}/content',
        'POST /v1/audio/generations',
        'POST /v1/audio/speech',
        'POST /v1/images/generations',
        'POST /v1/videos',
      ].sort(),
    );
    for (const m of found.values()) {
      expect(m.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
    }
  });

  it('serves exactly what the runtime serves: no route without a resource, no resource without a route', () => {
    const runtime = createRuntime(loadConfig({ DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' }), { ...realTime, log: new MemoryLog() });
    const served = runtime.routes.map((r) => `${r.method} ${r.path}`).sort();
    runtime.ddb.destroy();
    expect(served.length).toBeGreaterThan(0);
    expect([...methods().keys()].sort()).toEqual(served);
  });

  it('streams every answer: InvokeWithResponseStream, five minutes, and the permission to invoke the function', () => {
    const found = methods();
    expect(found.size).toBeGreaterThan(0);
    for (const m of found.values()) {
      const integration = m.Integration as { ResponseTransferMode?: string; TimeoutInMillis?: number; Uri?: unknown };
      expect(integration.ResponseTransferMode).toBe('STREAM');
      expect(integration.TimeoutInMillis).toBe(300_000);
      // The streaming invoke path (API version 2021-11-15), not the buffered /invocations.
      expect(JSON.stringify(integration.Uri)).toMatch(/2021-11-15\/functions\/.*\/response-streaming-invocations/);
    }
    // lambda:InvokeFunction is the action InvokeWithResponseStream is authorised by: one per method.
    const permissions = Object.values(resourcesOf(s.template, 'AWS::Lambda::Permission')).filter((p) => p.Properties.Principal === 'apigateway.amazonaws.com');
    expect(permissions.length).toBe(found.size);
    for (const p of permissions) expect(p.Properties.Action).toBe('lambda:InvokeFunction');
  });

  it('requires an API key on every method', () => {
    const found = methods();
    expect(found.size).toBe(8);
    for (const [route, m] of found) {
      expect({ route, ApiKeyRequired: m.ApiKeyRequired }).toEqual({ route, ApiKeyRequired: true });
    }
  });

  it('validates requests: one validator on every method, path ids required', () => {
    s.template.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    s.template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    for (const [route, m] of methods()) {
      expect(m.RequestValidatorId).toBeDefined();
      if (route.includes('{id}')) expect(m.RequestParameters).toEqual({ 'method.request.path.id': true });
    }
  });

  it('throttles through a usage plan with the context rate and burst, bound to the default key', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      UsagePlanName: 'nanobot',
      Throttle: { RateLimit: 7, BurstLimit: 11 },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    s.template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    s.template.hasResourceProperties('AWS::ApiGateway::ApiKey', { Enabled: true, Value: Match.absent() });
    s.template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  it('writes JSON access logs (never the API key value) to its own log group', () => {
    const [stage] = Object.values(resourcesOf(s.template, 'AWS::ApiGateway::Stage'));
    const setting = stage.Properties.AccessLogSetting as { Format: string; DestinationArn: unknown };
    // Valid JSON once API Gateway substitutes $context.error.messageString (a quoted string).
    const format = JSON.parse(setting.Format.replace('$context.error.messageString', '"msg"')) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      apiKeyId: '$context.identity.apiKeyId',
      resourcePath: '$context.resourcePath',
      errorMessage: 'msg',
    });
    expect(setting.Format).not.toContain('$context.identity.apiKey"');
    const [accessLogGroupId] = Object.keys(
      s.template.findResources('AWS::Logs::LogGroup', {
        Properties: { LogGroupName: '/aws/apigateway/nanobot-access' },
      }),
    );
    expect(JSON.stringify(setting.DestinationArn)).toContain(accessLogGroupId);
    expect(stage.Properties.MethodSettings).toEqual([
      expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false }),
    ]);
  });

  it('answers its own errors OpenAI-shaped; unknown routes are 404', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
    });
    for (const type of ['MISSING_AUTHENTICATION_TOKEN', 'DEFAULT_4XX', 'DEFAULT_5XX']) {
      const [response] = Object.values(
        s.template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } }),
      ) as { Properties: { ResponseTemplates: Record<string, string> } }[];
      const body = response.Properties.ResponseTemplates['application/json'];
      // Valid JSON once API Gateway substitutes $context.error.messageString (a quoted string).
      const parsed = JSON.parse(body.replace('$context.error.messageString', '"msg"')) as { error: Record<string, unknown> };
      expect(Object.keys(parsed.error)).toEqual(expect.arrayContaining(['message', 'type', 'code', 'param']));
    }
  });

  it('grants API Gateway invoke per method, without test-invoke permissions', () => {
    const fromApi = Object.values(resourcesOf(s.template, 'AWS::Lambda::Permission')).filter((p) => p.Properties.Principal === 'apigateway.amazonaws.com');
    expect(fromApi).toHaveLength(8);
    for (const p of fromApi) {
      expect(JSON.stringify(p.Properties.SourceArn)).not.toContain('/test-invoke-stage/');
    }
  });
});
