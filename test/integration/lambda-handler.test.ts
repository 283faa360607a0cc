import { responseSink } from '../support/results';
import { createServer, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { startSandbox, Sandbox } from '../../scripts/sandbox';
import { ensureTable, localClient, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';

/**
 * The deployed entry's code path (`lambda/handler.ts`, what `index.mts` awaits and exports), as
 * Lambda drives it: configuration from the environment at init, registration of the
 * post-response extension with the Runtime API, API Gateway REST events with base64 bodies (the
 * API's binary media types include `*\/*`), and the health flush after the response.
 */
let sandbox: Sandbox;
let dynamo: LocalDynamo;
let api: Server;
const pendingNext: ServerResponse[] = [];
let nextCalls = 0;
let registered = 0;

beforeAll(async () => {
  sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
  dynamo = await startDynalite();
  await ensureTable(dynamo.endpoint, 'nanobot-config');
  api = createServer((req, res) => {
    if (req.url?.endsWith('/extension/register')) {
      registered += 1;
      req.resume();
      res.writeHead(200, { 'lambda-extension-identifier': 'ext-1' }).end('{}');
    } else if (req.url?.endsWith('/extension/event/next')) {
      nextCalls += 1;
      pendingNext.push(res);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const r of pendingNext) r.end(JSON.stringify({ eventType: 'SHUTDOWN' }));
  api.closeAllConnections();
  await new Promise<void>((r) => api.close(() => r()));
  await sandbox.close();
  await dynamo.close();
});

function event(method: string, path: string, body?: object): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: '/{proxy+}',
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body ? Buffer.from(JSON.stringify(body)).toString('base64') : null,
    isBase64Encoded: body !== undefined,
    requestContext: { requestId: `apigw-${Math.random()}` } as APIGatewayProxyEvent['requestContext'],
  };
}

const context = (id: string) => ({ awsRequestId: id, functionName: 'nanobot', getRemainingTimeInMillis: () => 29_000 }) as unknown as Context;

test('init registers the extension; a speech request is answered, then health is written post-response', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${(api.address() as AddressInfo).port}`,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    OPENAI_API_KEYS: 'sk-lambda-handler-test-key-0001,sk-lambda-handler-test-key-0002',
    OPENAI_BASE_URL: sandbox.urls.openai,
  });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../../lambda/app/handler') as typeof import('../../lambda/app/handler');
    await mod.prepare();
    expect(registered).toBe(1);
    await waitFor(() => nextCalls === 1);

    // Lambda delivers the INVOKE event to the extension and the request to the handler.
    pendingNext.shift()!.end(JSON.stringify({ eventType: 'INVOKE', requestId: 'req-1', deadlineMs: Date.now() + 30_000 }));
    const sink = responseSink();
    await mod.handler(event('POST', '/v1/audio/speech', { model: 'tts-1', input: 'from Lambda', voice: 'alloy' }), sink.stream, context('req-1'));
    const res = sink.result();
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'content-type': 'audio/mpeg', 'x-nanobot-provider': 'openai-tts' });
    expect(res.body.length).toBeGreaterThan(1000);

    // The extension asks for its next event only after the flush: then the bucket is in the table.
    await waitFor(() => nextCalls === 2);
    const client = localClient(dynamo.endpoint);
    const items = await client.send(new QueryCommand({ TableName: 'nanobot-config', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'PROVIDER_HEALTH#openai-tts' } } }));
    client.destroy();
    expect(items.Items?.some((i) => i.sk.S?.startsWith('BUCKET#') && i.requests.N === '1')).toBe(true);

    const missingSink = responseSink();
    await mod.handler(event('GET', '/v1/nothing'), missingSink.stream, context('req-2'));
    expect(missingSink.result().statusCode).toBe(404);
  } finally {
    process.env = saved;
  }
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}
