import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { LambdaEnvironment, LambdaEnvironmentOptions } from './driver';
import { BUFFERED_RESPONSE_LIMIT, HTTP_INTEGRATION_CONTENT_TYPE } from './runtime-api';
import { pattern } from './fixtures/pattern.cjs';

/**
 * The Runtime API stand-in's own rules, proven with AWS's runtime interface client running tiny
 * fixture handlers (test/lambda-runtime/fixtures), not the gateway: if the stand-in let through
 * what Lambda refuses, the tests built on it would prove nothing.
 */
const FIXTURES = path.join(__dirname, 'fixtures');
const MiB = 1024 * 1024;
/** First build of aws-lambda-ric, if globalSetup did not run (see global-setup.ts). */
const BUILD_TIMEOUT = 20 * 60_000;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const started: LambdaEnvironment[] = [];
async function start(handler: string, opts: Partial<LambdaEnvironmentOptions> = {}): Promise<LambdaEnvironment> {
  const fn = await LambdaEnvironment.start({ taskRoot: FIXTURES, handler, ...opts });
  started.push(fn);
  return fn;
}

afterEach(async () => {
  for (const fn of started.splice(0)) await fn.stop();
});

describe('Runtime API stand-in under aws-lambda-ric', () => {
  // Builds the client when globalSetup did not (a run outside `npm test`); otherwise one stat.
  beforeAll(() => LambdaEnvironment.start({ taskRoot: FIXTURES, handler: 'basic.buffered' }).then((fn) => fn.stop()), BUILD_TIMEOUT);

  test('hands out events with the request id, deadline, function ARN and trace id headers', async () => {
    const fn = await start('basic.context', { memoryMb: 512 });
    const inv = await fn.invoke({ any: 'event' });
    expect(inv.status).toBe('success');
    expect(inv.mode).toBe('buffered');
    const seen = JSON.parse(inv.gateway!.body!.toString('utf8')) as Record<string, unknown>;
    expect(seen).toMatchObject({
      awsRequestId: inv.requestId,
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:nanobot',
      traceId: inv.traceId,
      functionName: 'nanobot',
      memoryLimitInMB: '512',
    });
    // The deadline header is delivery + the function timeout (30 s by default).
    expect(seen.remainingMs).toBeGreaterThan(25_000);
    expect(seen.remainingMs).toBeLessThanOrEqual(30_000);

    // A result for a request id the stand-in never handed out is refused, as Lambda refuses it.
    const bogus = await fetch(`http://${fn.api.address}/2018-06-01/runtime/invocation/not-an-invoke/response`, { method: 'POST', body: '{}' });
    expect(bogus.status).toBe(400);
    expect(await bogus.json()).toEqual({ errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
    // A second result for an invoke that has one is a state-transition error.
    const again = await fetch(`http://${fn.api.address}/2018-06-01/runtime/invocation/${inv.requestId}/response`, { method: 'POST', body: '{}' });
    expect(again.status).toBe(403);
    expect(((await again.json()) as { errorType: string }).errorType).toBe('InvalidStateTransition');
  });

  test('a buffered 7 MB answer is refused with 413 and the invoke fails as Function.ResponseSizeTooLarge (API Gateway: 502)', async () => {
    const fn = await start('basic.buffered');
    const big = await fn.invoke({ bytes: 7 * MiB });
    expect(big.mode).toBe('buffered');
    expect(big.status).toBe('error');
    expect(big.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(big.payloadSize).toBeGreaterThan(9 * MiB); // base64 of 7 MiB in a JSON proxy result
    expect(big.errorMessage).toBe(`Response payload size (${big.payloadSize} bytes) exceeded maximum allowed payload size (6291556 bytes).`);
    expect(big.runtimeAnswer).toEqual({ status: 413, body: { errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).', errorType: 'RequestEntityTooLarge' } });
    expect(big.gateway?.statusCode).toBe(502);

    // The environment lives on: the next, small answer goes through.
    const small = await fn.invoke({ bytes: 1000 });
    expect(small.status).toBe('success');
    expect(small.gateway?.statusCode).toBe(200);
    expect(small.gateway?.body?.equals(pattern(1000))).toBe(true);
  });

  test('the buffered limit is 6 MiB + 100 bytes of payload, to the byte', async () => {
    const fn = await start('basic.exact');
    const at = await fn.invoke({ payloadBytes: BUFFERED_RESPONSE_LIMIT });
    expect(at.status).toBe('success');
    expect(at.payloadSize).toBe(BUFFERED_RESPONSE_LIMIT);
    const over = await fn.invoke({ payloadBytes: BUFFERED_RESPONSE_LIMIT + 1 });
    expect(over.errorType).toBe('Function.ResponseSizeTooLarge');
  });

  test('a streamed 13 MB answer arrives complete and byte-identical, prelude decoded', async () => {
    const fn = await start('basic.streamed', { runtimeApi: { keepBodyBytes: 32 * MiB } });
    const inv = await fn.invoke({ bytes: 13 * MiB });
    expect(inv.status).toBe('success');
    expect(inv.mode).toBe('streamed');
    expect(inv.requestHeaders?.['transfer-encoding']).toBe('chunked');
    expect(inv.contentType).toBe(HTTP_INTEGRATION_CONTENT_TYPE);
    const g = inv.gateway!;
    expect(g.problem).toBeUndefined();
    expect(g.statusCode).toBe(201);
    expect(g.headers).toEqual({ 'content-type': 'audio/mpeg', 'x-fixture': 'streamed' });
    expect(g.cookies).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    const expected = pattern(13 * MiB);
    expect(g.bodySize).toBe(expected.length);
    expect(g.bodySha256).toBe(sha256(expected));
    expect(g.body?.equals(expected)).toBe(true);
    // Prelude + 8 NUL bytes + body is what the runtime sent.
    const preludeLength = inv.payloadSize - 8 - expected.length;
    expect(JSON.parse(inv.payload!.subarray(0, preludeLength).toString('utf8'))).toMatchObject({ statusCode: 201 });
    expect(inv.payload!.subarray(preludeLength, preludeLength + 8).equals(Buffer.alloc(8))).toBe(true);
    // The client could start reading before the last byte arrived.
    expect(inv.firstBodyByteAt!).toBeLessThan(inv.completedAt!);
  });

  test('over the streamed limit the invoke fails as Function.ResponseSizeTooLarge', async () => {
    const fn = await start('basic.streamed', { runtimeApi: { limits: { streamedBytes: 1 * MiB } } });
    const inv = await fn.invoke({ bytes: 2 * MiB });
    expect(inv.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(inv.gateway?.statusCode).toBe(502);
  });

  test('an error after the first streamed byte arrives in the trailers', async () => {
    const fn = await start('basic.streamThenThrow');
    const inv = await fn.invoke({});
    expect(inv.mode).toBe('streamed');
    expect(inv.status).toBe('error');
    expect(inv.errorType).toBe('TypeError');
    expect(inv.errorBody).toMatchObject({ errorType: 'TypeError', errorMessage: 'fixture failed mid-stream' });
  });

  test('a handler error is posted to /error; API Gateway would answer 502', async () => {
    const fn = await start('basic.throws');
    const inv = await fn.invoke({});
    expect(inv.status).toBe('error');
    expect(inv.mode).toBeUndefined();
    expect(inv.errorBody).toMatchObject({ errorType: 'RangeError', errorMessage: 'fixture handler failed' });
    expect(inv.gateway?.statusCode).toBe(502);
  });

  test('an init error is recorded and answers the waiting invoke', async () => {
    const fn = await start('basic.doesNotExist');
    const inv = await fn.invoke({});
    expect(inv.status).toBe('error');
    expect(inv.errorType).toBe('Runtime.HandlerNotFound');
    expect(fn.api.initErrors).toHaveLength(1);
    expect(fn.api.initErrors[0].errorType).toBe('Runtime.HandlerNotFound');
  });

  test('an invoke past the function timeout fails as Sandbox.Timedout and the environment is ended', async () => {
    const fn = await start('basic.sleeps', { runtimeApi: { timeoutMs: 1_000 } });
    const inv = await fn.invoke({ ms: 5_000 });
    expect(inv.errorType).toBe('Sandbox.Timedout');
    expect((await fn.exited).signal).toBe('SIGKILL');
  });

  test('the next invoke waits until the extension has called next after the previous response', async () => {
    const fn = await start('extension.handler');
    const first = fn.invoke({ postMs: 700 });
    const second = fn.invoke({ postMs: 0 });
    const [a, b] = await Promise.all([first, second]);
    await b.phaseEnded;
    const ext = 'fixture-post-response';
    expect(a.status).toBe('success');
    expect(b.status).toBe('success');
    // The runtime asked for the second invoke right after answering the first…
    const runtimeAsked = fn.api.runtimeNextAt.find((t) => t > a.completedAt!)!;
    expect(runtimeAsked).toBeDefined();
    // …but got it only once the extension had finished its 700 ms of post-response work.
    const extNext = a.extensions[ext].nextAt!;
    expect(extNext - a.completedAt!).toBeGreaterThanOrEqual(650);
    expect(runtimeAsked).toBeLessThan(extNext);
    expect(a.phaseEndedAt!).toBeGreaterThanOrEqual(extNext);
    expect(b.deliveredAt!).toBeGreaterThanOrEqual(extNext);
    expect(b.deliveredAt! - runtimeAsked).toBeGreaterThanOrEqual(600);
    expect(fn.text()).toContain(`post-response work done for ${a.requestId}`);
  });

  test('extension registration: internal ones may not take SHUTDOWN, none may register after init; SHUTDOWN reaches external ones at stop', async () => {
    const fn = await start('extension.handler', { extensions: [path.join(FIXTURES, 'shutdown-listener.mjs')] });
    const inv = await fn.invoke({ registerLate: true });
    const seen = JSON.parse(inv.gateway!.body!.toString('utf8')) as {
      shutdownAttempt: { status: number; body: { errorType: string } };
      late: { status: number; body: { errorType: string } };
    };
    expect(seen.shutdownAttempt.status).toBe(403);
    expect(seen.shutdownAttempt.body.errorType).toBe('Extension.InvalidEventType');
    expect(seen.late.status).toBe(403);
    expect(seen.late.body.errorType).toBe('Extension.RegistrationClosed');
    expect(fn.api.extensions.map((e) => e.name).sort()).toEqual(['fixture-post-response', 'shutdown-listener.mjs']);

    await inv.phaseEnded;
    started.splice(started.indexOf(fn), 1);
    const exit = await fn.stop();
    // The runtime had an extension registered, so it got SIGTERM (no handler: it ends on it).
    expect(exit.signal).toBe('SIGTERM');
    expect(fn.text()).toContain('shutdown-listener.mjs got SHUTDOWN spindown before its deadline');
    expect(fn.api.extensions.find((e) => e.name === 'shutdown-listener.mjs')?.shutdownDeliveredAt).toBeDefined();
  });
});
