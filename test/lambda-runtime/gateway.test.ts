import { startSandbox, Sandbox } from '../../scripts/sandbox';
import { ensureTable, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { healthItems } from '../support/harness';
import { apiGatewayEvent, LambdaEnvironment } from './driver';
import type { InvokeRecord } from './runtime-api';
import { removeSynthesized, startGatewayFunction, SynthesizedFunction } from './gateway-function';
import { createHash } from 'node:crypto';
import { observingDynamoProxy, ObservedCall, recordingProxy } from './upstreams';

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
    expect(inv.mode).toBe('streamed');
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
   * Post-response is after the response: the handler streams the whole answer to the runtime
   * (status, headers, every body byte) before it wakes the extension, so the health write never
   * delays a byte of the client's answer.
   */
  test('the health BUCKET write is sent after the last body byte reached the runtime', () => {
    const write = bucketWrites()[0];
    expect(write.at).toBeGreaterThan(speech.resultRequestAt!);
    expect(write.at).toBeGreaterThan(speech.firstBodyByteAt!);
  });

  test('GET /v1/health answers with every provider', async () => {
    const inv = await fn.invoke(apiGatewayEvent('GET', '/v1/health'));
    expect(inv.gateway?.problem).toBeUndefined();
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
 * Media at full size and speed through the runtime client: every answer streams, so Lambda's
 * 6 MB buffered limit and API Gateway's 29 s no longer apply, and bytes reach the client as the
 * provider sends them.
 */
describe('streamed media through the runtime client', () => {
  const direct = async (path: string, body: object): Promise<Buffer> => {
    const res = await fetch(`${sandbox.urls.openai}${path}`, { method: 'POST', headers: { authorization: `Bearer ${openaiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };
  let streamFn: LambdaEnvironment;
  let tap: Awaited<ReturnType<typeof recordingProxy>>;
  /** The last answer the provider sent the function, as it left the provider. */
  const lastFromProvider = () => tap.answers[tap.answers.length - 1];
  beforeAll(async () => {
    tap = await recordingProxy(sandbox.urls.openai);
    ({ fn: streamFn } = await startGatewayFunction({ sandbox, dynamoEndpoint: dynamo.endpoint, keys: { openai: [openaiKey] }, runtimeApi: { keepBodyBytes: 64 * MiB }, env: { OPENAI_BASE_URL: tap.baseUrl } }));
  }, BUILD_AND_SYNTH_TIMEOUT);
  afterAll(async () => {
    sandbox.setTiming('fast');
    await streamFn?.stop();
    await tap?.close();
  });

  test('a 13 MB wav (4,096 characters) arrives complete and byte-identical to the provider\'s', async () => {
    const request = { model: 'tts-1', input: 'A long chapter read aloud. '.repeat(152).slice(0, 4096), voice: 'alloy', response_format: 'wav' };
    const inv = await streamFn.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: request }));
    expect(inv.status).toBe('success');
    expect(inv.mode).toBe('streamed');
    expect(inv.gateway?.statusCode).toBe(200);
    expect(inv.gateway?.headers['content-type']).toBe('audio/wav');
    const sent = lastFromProvider();
    expect(sent.bytes).toBeGreaterThan(13_000_000);
    expect(inv.gateway?.bodySize).toBe(sent.bytes);
    expect(inv.gateway?.bodySha256).toBe(sent.sha256);
    // And the provider's answer is the one a direct call gets (the sandbox is deterministic for speech).
    expect(createHash('sha256').update(await direct('/audio/speech', request)).digest('hex')).toBe(sent.sha256);
  }, 120_000);

  test('a 16 MB gpt-image-1 answer (b64_json, 4 images) arrives complete and byte-identical', async () => {
    const request = { model: 'gpt-image-1', prompt: 'four paper boats', n: 4 };
    sandbox.injectFaults('openai', [{ kind: 'body_size', bytes: 16_000_000 }]);
    const inv = await streamFn.invoke(apiGatewayEvent('POST', '/v1/images/generations', { body: request }));
    expect(inv.status).toBe('success');
    expect(inv.gateway?.statusCode).toBe(200);
    const sent = lastFromProvider();
    expect(sent.path).toMatch(/\/images\/generations$/);
    expect(sent.bytes).toBeGreaterThan(15_000_000);
    expect(inv.gateway?.bodySize).toBe(sent.bytes);
    expect(inv.gateway?.bodySha256).toBe(sent.sha256);
    const parsed = JSON.parse(inv.gateway!.body!.toString('utf8')) as { data: { b64_json: string }[] };
    expect(parsed.data).toHaveLength(4);
  }, 120_000);

  test('a generation that takes 40 s before its first byte is answered (no 29 s wall)', async () => {
    sandbox.injectFaults('openai', [{ kind: 'slow_headers', delayMs: 40_000 }]);
    const inv = await streamFn.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: { model: 'tts-1', input: 'worth the wait', voice: 'alloy' } }));
    expect(inv.status).toBe('success');
    expect(inv.gateway?.statusCode).toBe(200);
    expect(inv.gateway!.bodySize).toBeGreaterThan(1000);
    expect(inv.firstBodyByteAt! - inv.deliveredAt!).toBeGreaterThan(40_000);
  }, 120_000);

  test('speech of 1,200 characters: the first audio byte leaves before the provider\'s last one', async () => {
    sandbox.setTiming('realistic');
    const mark = sandbox.log().length;
    const inv = await streamFn.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: { model: 'tts-1', input: 'x'.repeat(1200), voice: 'alloy' } }));
    sandbox.setTiming('fast');
    expect(inv.gateway?.statusCode).toBe(200);
    const call = sandbox.log().slice(mark).find((c) => c.path === '/v1/audio/speech')!;
    // Stand-in times are performance.now(); the sandbox's are wall clock: put both on the wall clock.
    const gatewayFirst = performance.timeOrigin + inv.firstBodyByteAt!;
    expect(call.firstByteAt).toBeDefined();
    expect(gatewayFirst).toBeGreaterThanOrEqual(call.firstByteAt!);
    // Relayed, not buffered: the client's first byte went out while the provider was still sending.
    expect(gatewayFirst).toBeLessThan(call.lastByteAt!);
    process.stderr.write(`[ttfb] provider first byte → client first byte: ${(gatewayFirst - call.firstByteAt!).toFixed(1)} ms; provider first → last byte: ${(call.lastByteAt! - call.firstByteAt!).toFixed(0)} ms\n`);
  }, 60_000);

  test('a provider failure mid-stream aborts the response (never a clean end) and is counted', async () => {
    sandbox.injectFaults('openai', [{ kind: 'midstream_reset', afterBytes: 100_000 }]);
    const inv = await streamFn.invoke(apiGatewayEvent('POST', '/v1/audio/speech', { body: { model: 'tts-1', input: 'y'.repeat(600), voice: 'alloy', response_format: 'pcm' } }));
    // The runtime reports the error in the stream's trailer: API Gateway cuts the client's response.
    expect(inv.status).toBe('error');
    expect(inv.gateway?.bodySize ?? 0).toBeLessThan(600 / 15 * 48_000);
    expect(streamFn.text()).toMatch(/"message":"stream aborted"/);
  }, 60_000);
});
