import type { ScheduledEvent } from 'aws-lambda';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { startSandbox, Sandbox } from '../../scripts/sandbox';
import { ensureTable, localClient, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';

/**
 * The probe function's entry (`index.probeHandler` → `lambda/app/probe-handler.ts`) as the
 * EventBridge schedule drives it: one scheduled event, one run over every configured key, the
 * results in the table; a run that cannot reach its store throws (a Lambda error, which the
 * "probe runs failing" alarm counts). It registers no post-response extension.
 */
let sandbox: Sandbox;
let dynamo: LocalDynamo;
beforeAll(async () => {
  sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
  dynamo = await startDynalite();
  await ensureTable(dynamo.endpoint, 'nanobot-config');
});
afterAll(async () => {
  await sandbox.close();
  await dynamo.close();
});

const scheduled = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} } as unknown as ScheduledEvent;

let saved: NodeJS.ProcessEnv = {};
beforeEach(() => {
  saved = { ...process.env };
});
afterEach(() => {
  process.env = saved;
});

/** A fresh module (the handler keeps its runtime across invocations, like a warm container). */
function loadHandler(env: Record<string, string>): typeof import('../../lambda/app/probe-handler') {
  Object.assign(process.env, env);
  let mod: typeof import('../../lambda/app/probe-handler') | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../../lambda/app/probe-handler') as typeof import('../../lambda/app/probe-handler');
  });
  return mod!;
}

const env = (endpoint: string): Record<string, string> => ({
  DYNAMODB_ENDPOINT: endpoint,
  OPENAI_API_KEYS: 'sk-probe-handler-test-key-0001,sk-probe-handler-test-key-0002',
  OPENAI_BASE_URL: sandbox.urls.openai,
  ELEVENLABS_API_KEYS: sandbox.defaultKeys.elevenlabs[0],
  ELEVENLABS_BASE_URL: sandbox.urls.elevenlabs,
  FAL_PLATFORM_BASE_URL: sandbox.urls.falPlatform,
  KLING_BASE_URL: sandbox.urls.kling,
});

test('a scheduled event runs one probe over every configured key and writes KEY_HEALTH# items', async () => {
  const mod = loadHandler(env(dynamo.endpoint));
  const out = await mod.probeHandler(scheduled);
  expect(out).toMatchObject({ probed: 3, passed: 3, skipped: 0 });
  const client = localClient(dynamo.endpoint);
  try {
    const r = await client.send(new QueryCommand({ TableName: 'nanobot-config', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'KEY_HEALTH#openai' } } }));
    expect((r.Items ?? []).map((i) => unmarshall(i)).map((i) => [i.keyId, i.state, i.probeResult]).sort()).toEqual([['openai#1', 'ok', 'ok'], ['openai#2', 'ok', 'ok']]);
  } finally {
    client.destroy();
  }
  expect(sandbox.log().filter((c) => c.path === '/v1/models')).toHaveLength(2);
});

test('a run whose store is unreachable throws, so Lambda counts the failure', async () => {
  const mod = loadHandler({ ...env('http://127.0.0.1:9'), KEY_STATE_SHARING: 'off' });
  await expect(mod.probeHandler(scheduled)).rejects.toThrow(mod.ProbeRunFailed);
});
