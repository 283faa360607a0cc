import { startSandbox, Sandbox } from '../../scripts/sandbox';
import { ensureTable, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { healthItems } from '../support/harness';
import { apiGatewayEvent, LambdaEnvironment } from './driver';
import type { InvokeRecord } from './runtime-api';
import { removeSynthesized, startGatewayFunction, SynthesizedFunction } from './gateway-function';
import { bigSpeechUpstream, observingDynamoProxy, ObservedCall } from './upstreams';

/**
 * The bundle `cdk synth` builds (lambda/index.mts through esbuild, as the stack deploys it), run
 * by AWS's runtime interface client against the Runtime API stand-in, with API Gateway REST proxy
 * events, the provider sandbox upstream and dynalite as its table.
 */
const MiB = 1024 * 1024;
const BUILD_AND_SYNTH_TIMEOUT = 20 * 60_000;
const EXTENSION = 'nanobot-health';

let sandbox: Sandbox;
let dynamo: LocalDynamo;
let proxy: Awaited<ReturnType<typeof observingDynamoProxy>>;
let fn: LambdaEnvironment;
let synth: SynthesizedFunction;
const openaiKey = 'sk-ric-harness-key-0001-a6f1c2d3e4';

beforeAll(async () => {
  sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
  dynamo = await startDynalite();
  proxy = await observingDynamoProxy(dynamo.endpoint);
  ({ fn, synth } = await startGatewayFunction({ sandbox, dynamoEndpoint: proxy.endpoint, keys: { openai: [openaiKey] } }));
  await ensureTable(dynamo.endpoint, synth.env.TABLE_NAME);
}, BUILD_AND_SYNTH_TIMEOUT);

afterAll(async () => {
  await fn?.stop();
  await proxy?.close();
  await sandbox?.close();
  await dynamo?.close();
  removeSynthesized();
});

/** The health flush's BUCKET writes seen by the DynamoDB proxy so far. */
const bucketWrites = (): ObservedCall[] => proxy.calls.filter((c) => c.target.endsWith('.UpdateItem') && c.body.includes('"BUCKET#'));
let speech: InvokeRecord;

describe('the synthesized gateway bundle under aws-lambda-ric', () => {
  test('runs what the stack deploys: nodejs22.x, index.handler, the template environment', () => {
    expect(synth.runtime).toBe('nodejs22.x');
    expect(synth.handler).toBe('index.handler');
    expect(synth.env).toMatchObject({ TABLE_NAME: 'nanobot-config', NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: expect.any(String) });
    // The secret's ARN cannot be served here: keys come from OPENAI_API_KEYS (still supported).
    expect(Object.keys(synth.unresolved)).toEqual(['PROVIDER_KEYS_SECRET_ID']);
  });

  test('POST /v1/audio/speech answers 200 with the bytes the sandbox produced; the extension writes the health BUCKET, and the invoke phase ends after the response', async () => {
    const request = { model: 'tts-1', input: 'Hello from the runtime client', voice: 'alloy' };
    const inv = await fn.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: request, headers: { Accept: 'audio/mpeg' } }));
    expect(inv.status).toBe('success');
    expect(inv.mode).toBe('buffered');
    const g = inv.gateway!;
    expect(g.statusCode).toBe(200);
    expect(g.headers['content-type']).toBe('audio/mpeg');
    expect(g.headers['x-nanobot-provider']).toBe('openai-tts');

    // The same request straight to the sandbox: the gateway passed its bytes through unchanged.
    const direct = await fetch(`${sandbox.urls.openai}/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${openaiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    expect(direct.status).toBe(200);
    const audio = Buffer.from(await direct.arrayBuffer());
    expect(audio.length).toBeGreaterThan(1000);
    expect(g.body?.equals(audio)).toBe(true);

    // The internal extension registered during init; the BUCKET write is its work for this
    // invoke (after the INVOKE event reached it, before it asked for the next event), and the
    // invoke phase (what holds the environment) ends only when that is done, after the response.
    expect(fn.api.extensions.map((e) => e.name)).toEqual([EXTENSION]);
    await inv.phaseEnded;
    const mark = inv.extensions[EXTENSION];
    expect(mark.nextAt!).toBeGreaterThan(inv.completedAt!);
    const writes = bucketWrites();
    expect(writes).toHaveLength(1);
    expect(writes[0].at).toBeGreaterThan(mark.eventAt!);
    expect(writes[0].at).toBeLessThan(mark.nextAt!);
    const buckets = (await healthItems(dynamo.endpoint, 'openai-tts')).filter((i) => String(i.sk).startsWith('BUCKET#'));
    expect(buckets.reduce((n, i) => n + Number(i.requests ?? 0), 0)).toBe(1);
    expect(buckets.reduce((n, i) => n + Number(i.successes ?? 0), 0)).toBe(1);
    speech = inv;
  });

  /**
   * TODAY, characterised: "post-response" starts before the response is posted. The handler
   * wakes the extension in its `finally`, before it returns; the runtime client posts the result
   * only after a setImmediate, so the extension's flush (request building, signing, the write on
   * a kept-alive socket) runs first and the response waits for it. Flips (write after
   * resultRequestAt) once the extension is woken after the result is posted, e.g. at the end of a
   * streamed response.
   */
  test('TODAY: the health BUCKET write is sent before the runtime client starts posting the response', () => {
    const write = bucketWrites()[0];
    expect(write.at).toBeLessThan(speech.resultRequestAt!);
  });

  test('GET /v1/health answers with every provider', async () => {
    const inv = await fn.invoke(apiGatewayEvent('GET', '/v1/health'));
    expect(inv.gateway?.statusCode).toBe(200);
    const body = JSON.parse(inv.gateway!.body!.toString('utf8')) as { window: string; providers: Record<string, { status: string; requests: number }> };
    expect(body.window).toBe('5m');
    expect(Object.keys(body.providers)).toEqual(expect.arrayContaining(['openai-tts', 'elevenlabs-tts', 'openai-image', 'fal-flux', 'fal-stable-audio', 'kling-video']));
    expect(body.providers['openai-tts'].requests).toBe(1);
  });

  test('an unknown route is 404 from the function, not a runtime error', async () => {
    const inv = await fn.invoke(apiGatewayEvent('GET', '/v1/nothing-here'));
    expect(inv.status).toBe('success');
    expect(inv.gateway?.statusCode).toBe(404);
  });

  /**
   * Shutdown: with an extension registered, Lambda sends the runtime SIGTERM and SIGKILLs it
   * 500 ms later (internal extensions only). The handler's SIGTERM hook writes the counters not
   * yet flushed (the flush interval is 10 s, so the second speech request is still pending) and
   * calls process.exit(0). TODAY that exit does not end the process: the runtime client's native
   * `next` is blocked in curl on a libuv worker thread, which exit waits for, so Lambda's SIGKILL
   * does. The write is what matters, and it lands within the 500 ms.
   */
  test('at shutdown SIGTERM writes the pending health counters within the grace; TODAY the exit itself waits for SIGKILL', async () => {
    const inv = await fn.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: { model: 'tts-1', input: 'one more', voice: 'alloy' } }));
    expect(inv.gateway?.statusCode).toBe(200);
    await fn.api.idle();
    expect(bucketWrites()).toHaveLength(1); // not due yet: still pending in the function
    const exit = await fn.stop();
    expect(exit.signal).toBe('SIGKILL');
    const buckets = (await healthItems(dynamo.endpoint, 'openai-tts')).filter((i) => String(i.sk).startsWith('BUCKET#'));
    expect(buckets.reduce((n, i) => n + Number(i.requests ?? 0), 0)).toBe(2);
    expect(fn.text()).not.toMatch(/"level":"ERROR"/);
  });
});

/**
 * TODAY'S GAP, characterised: the handler answers buffered, so a speech answer whose proxy result
 * passes Lambda's 6 MB limit never reaches the client (API Gateway answers 502). When the
 * streaming handler lands, flip this test to expect `mode: 'streamed'` and the complete audio.
 */
describe('known gap: buffered answers over 6 MB', () => {
  let upstream: Awaited<ReturnType<typeof bigSpeechUpstream>>;
  let big: LambdaEnvironment;

  beforeAll(async () => {
    upstream = await bigSpeechUpstream(7 * MiB);
    ({ fn: big } = await startGatewayFunction({ sandbox, dynamoEndpoint: dynamo.endpoint, keys: { openai: [openaiKey] }, env: { OPENAI_BASE_URL: upstream.baseUrl } }));
  }, BUILD_AND_SYNTH_TIMEOUT);

  afterAll(async () => {
    await big?.stop();
    await upstream?.close();
  });

  test('BUFFERED TODAY: a 7 MB speech answer is refused by Lambda (Function.ResponseSizeTooLarge, API Gateway 502); streaming must turn this into a complete answer', async () => {
    const inv = await big.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: { model: 'tts-1', input: 'a long chapter', voice: 'alloy' } }));
    expect(inv.mode).toBe('buffered');
    expect(inv.status).toBe('error');
    expect(inv.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(inv.payloadSize).toBeGreaterThan(Math.ceil((7 * MiB) / 3) * 4); // base64 of the audio, in JSON
    expect(inv.runtimeAnswer?.status).toBe(413);
    expect(inv.gateway?.statusCode).toBe(502);
  });
});
