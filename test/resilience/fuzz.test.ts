import { readResult } from '../support/results';
import fc from 'fast-check';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { LocalStack } from '../../scripts/local/stack';
import { agent, request } from '../../scripts/bench/client';
import { Harness, healthSums } from './harness';

/**
 * Property-based fuzzing of what clients send (bodies, types, sizes, content types, base64,
 * headers, paths, methods) against the local server, over HTTP and at the API Gateway event
 * level. Invariants: never a 5xx; a request the gateway refuses never reaches a provider (the
 * sandbox's call log says so), except the refusals only the provider can make (ElevenLabs voice
 * and model ids, documented); an accepted one is served; every error is OpenAI-shaped; the
 * server keeps answering; no key in any answer or log line.
 *
 * `FC_SEED=<n>` replays a run; fast-check prints the seed and the shrunk counterexample on failure.
 */
jest.setTimeout(90_000);
if (process.env.FC_SEED) fc.configureGlobal({ seed: Number(process.env.FC_SEED) });

const h = new Harness();
let stack: LocalStack;
const http = agent(4);
beforeAll(async () => {
  await h.start();
  stack = await h.stack({ openai: h.keys('openai', 2), elevenlabs: h.keys('elevenlabs', 2), fal: h.keys('fal', 2) });
});
afterAll(async () => {
  http.destroy();
  await h.stop();
  expect(h.leaks()).toEqual([]);
});

/** Served requests per provider (x-nanobot-provider), to compare with health: refused input must never be counted. */
const served = new Map<string, number>();
function noteServed(status: number, provider: unknown): void {
  if (status === 200 && typeof provider === 'string') served.set(provider, (served.get(provider) ?? 0) + 1);
}

/** Refusals only the provider can make: ElevenLabs voice and model ids are not knowable up front (README, Errors). */
const PROVIDER_ONLY = new Set(['voice_not_found', 'model_not_found']);

interface Outcome {
  status: number;
  calls: number;
  code?: string;
  body: string;
  contentType: string;
}

/** One request over raw HTTP; the sandbox calls it caused (requests are sequential). */
async function hit(path: string, body: string | Buffer | undefined, headers: Record<string, string>, method = 'POST'): Promise<Outcome> {
  const mark = h.sandbox.log().length;
  const a = await request(`${stack.url}${path}`, { method, headers, body, agent: http, timeoutMs: 15_000 });
  const text = a.body.toString('utf8');
  h.responses.push(JSON.stringify(a.headers), text);
  noteServed(a.status, a.headers['x-nanobot-provider']);
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: a.status, calls: h.sandbox.log().length - mark, code, body: text, contentType: String(a.headers['content-type'] ?? '') };
}

/** The invariants every fuzzed provider-route answer must satisfy. */
function check(o: Outcome, route: 'speech' | 'images'): void {
  expect(o.status).toBeGreaterThan(0);
  expect(o.status).toBeLessThan(500);
  expect([200, 400, 413]).toContain(o.status);
  if (o.status === 200) {
    expect(o.calls).toBeGreaterThanOrEqual(1);
    if (route === 'images') expect(JSON.parse(o.body)).toHaveProperty('data');
    else expect(o.contentType).toMatch(/^audio\//);
    return;
  }
  const err = (JSON.parse(o.body) as { error: Record<string, unknown>; request_id: unknown });
  expect(typeof err.error.message).toBe('string');
  expect(typeof err.error.type).toBe('string');
  expect(typeof err.error.code).toBe('string');
  expect(err.error).toHaveProperty('param');
  expect(typeof err.request_id).toBe('string');
  if (o.calls > 0) {
    // Reached a provider and was refused: only for what the gateway cannot know, and never retried.
    expect({ code: o.code, calls: o.calls }).toEqual({ code: expect.stringMatching(/^(voice_not_found|model_not_found)$/), calls: 1 });
    expect(PROVIDER_ONLY.has(String(o.code))).toBe(true);
  }
}

const JSON_CT = { 'content-type': 'application/json' };

const VALID: { route: 'speech' | 'images'; body: Record<string, unknown> }[] = [
  { route: 'speech', body: { model: 'tts-1', input: 'Hello', voice: 'alloy' } },
  { route: 'speech', body: { model: 'gpt-4o-mini-tts', input: 'Hello', voice: 'coral', instructions: 'calm', response_format: 'wav', speed: 1.5 } },
  { route: 'speech', body: { model: 'eleven_multilingual_v2', input: 'Hallo', voice: 'JBFqnCBsd6RMkjVDRZzb', response_format: 'mp3' } },
  { route: 'images', body: { model: 'dall-e-2', prompt: 'a fox', n: 2, size: '512x512' } },
  { route: 'images', body: { model: 'dall-e-3', prompt: 'a fox', size: '1792x1024', quality: 'hd', style: 'natural', response_format: 'b64_json' } },
  { route: 'images', body: { model: 'gpt-image-1', prompt: 'a fox', quality: 'low', size: 'auto' } },
  { route: 'images', body: { model: 'fal-ai/flux/schnell', prompt: 'a fox', n: 2, size: '1024x768' } },
];
const FIELDS = ['model', 'input', 'voice', 'response_format', 'speed', 'instructions', 'stream_format', 'prompt', 'n', 'size', 'quality', 'style', 'user', 'extra', '__proto__', 'constructor'];
const PATH = { speech: '/v1/audio/speech', images: '/v1/images/generations' } as const;

/** Odd values: wrong types, edge numbers, near-valid strings, huge strings. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -0, -1, 0.25, 0.2499, 4, 4.0001, 1e308, -1e308, 1.5, 2, 10, 11, '', ' ', '1024x1024', 'auto', 'alloy', 'mp3', 'sse', 'tts-1', 'dall-e-3', 'eleven_v3', '\u0000', '\ud83e\udd8a', []),
  fc.integer({ min: 3990, max: 40_050 }).map((n) => 'x'.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 64 }),
);

type Mutation = { kind: 'set'; field: string; value: unknown } | { kind: 'delete'; field: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), field: fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 12 })), value: oddValue }),
  fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }),
);

function mutate(base: Record<string, unknown>, ms: Mutation[]): Record<string, unknown> {
  const b: Record<string, unknown> = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  for (const m of ms) {
    if (m.kind === 'delete') delete b[m.field];
    else Object.defineProperty(b, m.field, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return b;
}

test('mutated valid bodies (wrong types, edge values, huge strings, unknown fields): no 5xx, no provider call for what is refused', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: VALID.length - 1 }), fc.array(mutation, { minLength: 0, maxLength: 3 }), async (i, ms) => {
      const { route, body } = VALID[i];
      check(await hit(PATH[route], JSON.stringify(mutate(body, ms)), JSON_CT), route);
    }),
    { numRuns: 250 },
  );
});

test('arbitrary JSON values and arbitrary bytes as the body: no 5xx, never a provider call', async () => {
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('speech' as const, 'images' as const), body, async (route, b) => {
      const o = await hit(PATH[route], b, JSON_CT);
      check(o, route);
      expect(o.calls).toBe(0);
    }),
    { numRuns: 150 },
  );
});

test('odd content types (binary types arrive base64-encoded, as from API Gateway): same answers as JSON, no 5xx', async () => {
  const ct = fc.oneof(
    fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'image/png', 'audio/mpeg', '*/*', 'application/xml', 'application/vnd.api+json'),
    fc.stringMatching(/^[a-z]{1,8}\/[a-z0-9.+-]{1,12}$/),
  );
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: VALID.length - 1 }), ct, fc.boolean(), async (i, contentType, spoil) => {
      const { route, body } = VALID[i];
      const raw = spoil ? `${JSON.stringify(body).slice(0, -1)}` : JSON.stringify(body);
      const o = await hit(PATH[route], raw, { 'content-type': contentType });
      check(o, route);
      // The content type never changes the outcome: a whole valid body is served, a cut one refused.
      expect(o.status).toBe(spoil ? 400 : 200);
    }),
    { numRuns: 80 },
  );
});

test('API Gateway events with base64 bodies (valid, invalid, binary), odd paths and methods: no 5xx, the app never throws', async () => {
  const event = fc.record({
    path: fc.oneof(fc.constantFrom('/v1/audio/speech', '/v1/images/generations', '/v1/health', '/v1/videos', '/v1/videos/abc', '/v1//audio//speech/', '/', ''), fc.webPath()),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'post', 'BREW'),
    body: fc.oneof(
      fc.constant(null),
      fc.nat({ max: VALID.length - 1 }).map((i) => Buffer.from(JSON.stringify(VALID[i].body)).toString('base64')),
      fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64')),
      fc.string({ maxLength: 100 }),
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u).toString('base64')),
    ),
    isBase64Encoded: fc.boolean(),
    headers: fc.dictionary(fc.stringMatching(/^[A-Za-z-]{1,16}$/), fc.string({ maxLength: 40 }), { maxKeys: 5 }),
  });
  await fc.assert(
    fc.asyncProperty(event, async (e) => {
      const mark = h.sandbox.log().length;
      const ev = { resource: '/{proxy+}', path: e.path, httpMethod: e.method, headers: e.headers, multiValueHeaders: {}, queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: null, stageVariables: null, body: e.body, isBase64Encoded: e.isBase64Encoded, requestContext: { requestId: `fuzz-${mark}` } } as unknown as APIGatewayProxyEvent;
      const res = await readResult(await stack.runtime.app(ev));
      h.responses.push(JSON.stringify({ ...res, bytes: undefined }));
      noteServed(res.statusCode, res.headers?.['x-nanobot-provider']);
      expect(res.statusCode).toBeLessThan(500);
      if (res.statusCode !== 200) {
        expect(h.sandbox.log().length - mark === 0 || PROVIDER_ONLY.has(String((JSON.parse(res.body) as { error?: { code?: string } }).error?.code))).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
});

/** Whether the client sends this path as a request-target starting with `//` (it resolves dot segments first). */
function sentWithLeadingSlashes(path: string): boolean {
  try {
    return new URL(`http://h${path}`).pathname.startsWith('//');
  } catch {
    return true;
  }
}

test('odd headers, methods and paths over HTTP: no 5xx, the server keeps answering', async () => {
  const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}$/).filter((n) => !['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive'].includes(n.toLowerCase()))
    // Names of Object.prototype members break the local adapter: a known bug, tested on its own below.
    .filter((n) => !(n in {}));
  const value = fc.oneof(fc.stringMatching(/^[\x20-\x7e]{0,64}$/).map((s) => s.trim()), fc.integer({ min: 1, max: 6000 }).map((n) => 'v'.repeat(n)));
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      // Targets that normalise to a leading `//` (e.g. `/.//`) hit a known local-server bug, tested on its own below.
      fc.oneof(fc.constantFrom('/v1/audio/speech', '/v1/images/generations', '/v1/health', '/v1/audio/generations', '/v1/videos/x/content', '/nope'), fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)).filter((p) => !sentWithLeadingSlashes(p))),
      fc.dictionary(token, value, { maxKeys: 8 }),
      async (method, path, headers) => {
        const body = method === 'GET' || method === 'OPTIONS' ? undefined : JSON.stringify(VALID[0].body);
        const o = await hit(path, body, { 'content-type': 'application/json', ...headers }, method);
        expect(o.status).toBeGreaterThan(0);
        expect(o.status).toBeLessThan(500);
      },
    ),
    { numRuns: 120 },
  );
  expect((await hit('/v1/health', undefined, {}, 'GET')).status).toBe(200);
});

/**
 * Regression (found by this suite, fixed): scripts/local/apigw.ts
 * parses the request-target with `new URL(req.url, 'http://local')`, which reads a target starting
 * with `//` as a scheme-relative URL: `//` throws (answered 500 "Internal error."), and
 * `//v1/health` becomes host `v1`, path `/health` (404), where the app itself (as behind API
 * Gateway) collapses repeated slashes. The local server now splits the target by hand.
 */
test('a request-target starting with // is answered like any odd path (no 500), as the app would behind API Gateway', async () => {
  const root = await hit('//', undefined, {}, 'GET');
  const health = await hit('//v1/health', undefined, {}, 'GET');
  expect([root.status, health.status]).toEqual([404, 200]);
});

/**
 * Regression (found by this suite, fixed): scripts/local/apigw.ts builds `multiValueHeaders`
 * and `multiValueQueryStringParameters` as plain objects with `(m[name] ??= []).push(v)`, so a
 * header or query parameter named like an Object.prototype member (`toString`, `constructor`,
 * `__proto__`, `hasOwnProperty`, ...) finds the inherited function instead of undefined, and
 * `.push` throws: the local server answers 500. (Behind API Gateway the event is built by AWS.)
 * Fixed with null-prototype maps.
 */
test('headers and query parameters named like Object.prototype members are answered normally (no 500)', async () => {
  const statuses = [
    (await hit('/v1/health', undefined, { toString: 'x' }, 'GET')).status,
    (await hit('/v1/health', undefined, { constructor: 'x' }, 'GET')).status,
    (await hit('/v1/health?__proto__=1', undefined, {}, 'GET')).status,
    (await hit('/v1/health?hasOwnProperty=1', undefined, {}, 'GET')).status,
  ];
  expect(statuses).toEqual([200, 200, 200, 200]);
});

test('oversized bodies: 413 from the app (over 1 MB) and from the local server (over 2 MB), no provider call', async () => {
  const big = (n: number) => JSON.stringify({ model: 'tts-1', input: 'x'.repeat(n), voice: 'alloy' });
  for (const [n, ct] of [[1_100_000, 'application/json'], [1_100_000, 'application/octet-stream'], [2_100_000, 'application/json']] as const) {
    const o = await hit('/v1/audio/speech', big(n), { 'content-type': ct });
    expect(o.status).toBe(413);
    expect(o.calls).toBe(0);
  }
  // Under the limits but over the model's: a clean 400.
  const o = await hit('/v1/audio/speech', big(500_000), JSON_CT);
  expect([o.status, o.code, o.calls]).toEqual([400, 'string_above_max_length', 0]);
  expect((await hit('/v1/health', undefined, {}, 'GET')).status).toBe(200);
});

test('health counts only what was served: no refused or malformed input was counted for any provider', async () => {
  await stack.runtime.flusher.flush();
  expect(served.size).toBeGreaterThanOrEqual(4);
  for (const provider of ['openai-tts', 'elevenlabs-tts', 'openai-image', 'fal-flux']) {
    const n = served.get(provider) ?? 0;
    expect({ provider, ...(await healthSums(h.dynamo.endpoint, provider)) }).toMatchObject({ provider, requests: n, successes: n, failures: 0 });
  }
});

test('no key appears in any log line or answer of this file (and the scan has keys to look for)', () => {
  expect(h.forbidden().length).toBeGreaterThan(3);
  expect(h.leaks()).toEqual([]);
});
