import OpenAI from 'openai';
import { Harness, post, speechBody, storedItemsText } from './harness';

/**
 * Issue 2 "Done when", through the local server (the Lambda app behind an API Gateway event
 * adapter) against the provider sandbox over real HTTP. Call counts are read at the sandbox.
 */
const h = new Harness();
let n = 0;
/** Fresh, unique keys per test so sandbox rules and counts never leak between tests. */
const fresh = (prefix: string, count: number) => {
  n += 1;
  const rnd = () => Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 10);
  return Array.from({ length: count }, (_, i) => `${prefix}it${n}x${i + 1}r${rnd()}`);
};
const openaiKeys = (c: number) => fresh('sk-', c);
const elevenKeys = (c: number) => fresh('el', c);
const falKeys = (c: number) => fresh('falid', c).map((k) => `${k}:falsecret${k.slice(-6)}`);

beforeAll(() => h.start());
afterAll(() => h.stop());

describe('speech and images through the gateway', () => {
  test('POST /v1/audio/speech returns audio bytes and the gateway headers', async () => {
    const stack = await h.stack({ openai: openaiKeys(2) });
    const res = await post(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(res.headers.get('x-nanobot-provider')).toBe('openai-tts');
    expect(res.headers.get('x-nanobot-attempts')).toBe('1');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const audio = Buffer.from(await res.arrayBuffer());
    expect(audio.length).toBeGreaterThan(100);
    // MPEG audio: an ID3 tag or a frame sync.
    expect(audio.subarray(0, 3).toString('latin1') === 'ID3' || (audio[0] === 0xff && (audio[1] & 0xe0) === 0xe0)).toBe(true);
  });

  test('ElevenLabs: response_format maps to output_format, audio comes back', async () => {
    const stack = await h.stack({ elevenlabs: elevenKeys(1) });
    const res = await post(`${stack.url}/v1/audio/speech`, { model: 'eleven_multilingual_v2', input: 'Hallo', voice: 'JBFqnCBsd6RMkjVDRZzb', response_format: 'wav' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(res.headers.get('x-nanobot-provider')).toBe('elevenlabs-tts');
    const wav = Buffer.from(await res.arrayBuffer());
    expect(wav.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(h.sandbox.log().some((r) => r.vendor === 'elevenlabs' && r.path === '/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream')).toBe(true);
  });

  test('fal flux: size → image_size, n → num_images, result mapped to {created, data:[{url}]}', async () => {
    const stack = await h.stack({ fal: falKeys(1) });
    const res = await post(`${stack.url}/v1/images/generations`, { model: 'fal-ai/flux/schnell', prompt: 'a lighthouse', n: 2, size: '1024x768' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { created: number; data: { url: string }[] };
    expect(body.created).toBeGreaterThan(1_700_000_000);
    expect(body.data).toHaveLength(2);
    for (const d of body.data) expect(d.url).toMatch(/^http/);
    expect(res.headers.get('x-nanobot-provider')).toBe('fal-flux');
  });

  test('the official openai SDK works with only baseURL changed', async () => {
    const stack = await h.stack({ openai: openaiKeys(2), fal: falKeys(1) });
    const client = new OpenAI({ apiKey: 'unused-by-the-gateway', baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const speech = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hello SDK' });
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
    expect((await speech.arrayBuffer()).byteLength).toBeGreaterThan(100);
    const dalle = await client.images.generate({ model: 'dall-e-3', prompt: 'a red fox', size: '1024x1024' });
    expect(dalle.data?.[0]?.url).toMatch(/^http/);
    const flux = await client.images.generate({ model: 'fal-ai/flux/dev', prompt: 'a red fox', n: 1 });
    expect(flux.data?.[0]?.url).toMatch(/^http/);
    // Errors come back typed, with our message.
    await expect(client.audio.speech.create({ model: 'tts-9', voice: 'alloy', input: 'x' })).rejects.toMatchObject({ status: 400, code: 'model_not_found' });
  });
});

describe('rotation, observed at the sandbox', () => {
  test('one key limited (429 + Retry-After), one healthy: all served, the limited key gets no call during its cooldown', async () => {
    // ElevenLabs sends no budget headers: the limit shows only as a 429 (with Retry-After here).
    const [limited, healthy] = elevenKeys(2);
    h.sandbox.configureKey('elevenlabs', limited, { rateLimit: { calls: 1, windowMs: 60_000 }, retryHint: 'seconds' });
    const stack = await h.stack({ elevenlabs: [limited, healthy] });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await post(`${stack.url}/v1/audio/speech`, { model: 'eleven_turbo_v2_5', input: `n${i}`, voice: 'JBFqnCBsd6RMkjVDRZzb' })).status);
    expect(statuses).toEqual(Array(8).fill(200));
    // One served call, one 429 that set the cooldown, then nothing for the rest of the run.
    expect(h.sandbox.log().filter((r) => r.key === limited).map((r) => r.status)).toEqual([200, 429]);
    expect(h.sandbox.calls({ key: healthy })).toBe(7);
  });

  test('OpenAI reports a spent request budget: the key rests before it can waste a 429', async () => {
    const [limited, healthy] = openaiKeys(2);
    h.sandbox.configureKey('openai', limited, { rateLimit: { calls: 2, windowMs: 60_000 }, retryHint: 'seconds' });
    const stack = await h.stack({ openai: [limited, healthy] });
    for (let i = 0; i < 8; i++) expect((await post(`${stack.url}/v1/audio/speech`, speechBody())).status).toBe(200);
    // Two served (x-ratelimit-remaining-requests: 1, then 0), then rested: no 429 at all.
    expect(h.sandbox.log().filter((r) => r.key === limited).map((r) => r.status)).toEqual([200, 200]);
    expect(h.sandbox.calls({ key: healthy })).toBe(6);
    expect(stack.gateway.pools.get('openai').view()[0]).toMatchObject({ state: 'cooling' });
  });

  test.each([
    ['openai', 'quota', 'an exhausted OpenAI key (429 insufficient_quota)'],
    ['openai', 'invalid', 'an invalid OpenAI key (401)'],
    ['elevenlabs', 'quota', 'an exhausted ElevenLabs key (401 quota_exceeded)'],
    ['fal', 'quota', 'a locked fal account (403 Exhausted balance)'],
  ] as const)('%s %s: %s is called once and never again, for any provider of the vendor', async (vendor, state, _what) => {
    const keys = vendor === 'openai' ? openaiKeys(2) : vendor === 'fal' ? falKeys(2) : elevenKeys(2);
    const [bad, good] = keys;
    h.sandbox.configureKey(vendor, bad, { state });
    const stack = await h.stack({ [vendor]: [bad, good] });
    const requests: [string, unknown][] =
      vendor === 'openai'
        ? [['/v1/audio/speech', speechBody()], ['/v1/images/generations', { model: 'dall-e-2', prompt: 'x', size: '256x256' }]]
        : vendor === 'fal'
          ? [['/v1/images/generations', { model: 'fal-ai/flux/dev', prompt: 'x' }], ['/v1/images/generations', { model: 'fal-ai/flux/schnell', prompt: 'y' }]]
          : [['/v1/audio/speech', { model: 'eleven_turbo_v2_5', input: 'x', voice: 'JBFqnCBsd6RMkjVDRZzb' }]];
    for (let i = 0; i < 6; i++) {
      const [path, body] = requests[i % requests.length];
      expect((await post(`${stack.url}${path}`, body)).status).toBe(200);
    }
    expect(h.sandbox.calls({ key: bad })).toBe(1);
    expect(h.sandbox.calls({ key: good })).toBe(6);
    const health = stack.gateway.pools.get(vendor).counts();
    expect(health).toMatchObject({ total: 2, disabled: 1 });
  });

  test('every key limited beyond the wait bound: 429 with Retry-After at once, no waiting, no further upstream calls', async () => {
    const keys = openaiKeys(2);
    for (const k of keys) h.sandbox.configureKey('openai', k, { rateLimit: { calls: 0, windowMs: 60_000 }, retryHint: 'seconds' });
    const sleeps: number[] = [];
    const stack = await h.stack({ openai: keys }, { MAX_KEY_WAIT_MS: '1000' }, sleeps);
    const t0 = performance.now();
    const res = await post(`${stack.url}/v1/audio/speech`, speechBody());
    const elapsed = performance.now() - t0;
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await res.json()) as { error: { code: string; type: string } };
    expect(body.error).toMatchObject({ code: 'all_keys_rate_limited', type: 'rate_limit_error' });
    expect(sleeps).toEqual([]);
    const upstream = h.sandbox.calls({ vendor: 'openai', key: keys[0] }) + h.sandbox.calls({ vendor: 'openai', key: keys[1] });
    expect(upstream).toBe(2);
    // A second request is refused from the pool's state alone.
    expect((await post(`${stack.url}/v1/audio/speech`, speechBody())).status).toBe(429);
    expect(h.sandbox.calls({ key: keys[0] }) + h.sandbox.calls({ key: keys[1] })).toBe(2);
    process.stdout.write(`[figure] all-keys-limited 429 answered in ${elapsed.toFixed(1)} ms\n`);
  });

  test('no usable key (all invalid) → 503', async () => {
    const [bad] = openaiKeys(1);
    h.sandbox.configureKey('openai', bad, { state: 'invalid' });
    const stack = await h.stack({ openai: [bad] });
    const first = await post(`${stack.url}/v1/audio/speech`, speechBody());
    expect(first.status).toBe(503);
    const body = (await first.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('no_usable_key');
    // The sandbox's 401 echoes a key fragment ("Incorrect API key provided: sk-…"): never passed on.
    expect(body.error.message).not.toMatch(/Incorrect API key|sk-/);
  });

  test('ElevenLabs system_busy and a provider 5xx are retried with backoff; the user gets the audio', async () => {
    const keys = elevenKeys(2);
    const sleeps: number[] = [];
    const stack = await h.stack({ elevenlabs: keys }, {}, sleeps);
    h.sandbox.injectFaults('elevenlabs', [{ kind: 'system_busy' }, { kind: 'status', status: 503 }]);
    const res = await post(`${stack.url}/v1/audio/speech`, { model: 'eleven_flash_v2_5', input: 'busy day', voice: 'JBFqnCBsd6RMkjVDRZzb' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nanobot-attempts')).toBe('3');
    expect(sleeps).toHaveLength(2);
    expect(Buffer.from(await res.arrayBuffer()).length).toBeGreaterThan(100);
    // Overload is the provider's, not the key's: no key was cooled or disabled.
    expect(stack.gateway.pools.get('elevenlabs').counts()).toMatchObject({ cooling: 0, disabled: 0 });
  });

  test('OpenAI 5xx storm shorter than the attempts: served', async () => {
    const stack = await h.stack({ openai: openaiKeys(2) });
    h.sandbox.injectFaults('openai', [{ kind: 'status', status: 500, times: 2 }]);
    const res = await post(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nanobot-attempts')).toBe('3');
  });

  test('a provider that keeps failing → 502 with our own message', async () => {
    const stack = await h.stack({ openai: openaiKeys(2) }, { MAX_ATTEMPTS: '3' });
    h.sandbox.injectFaults('openai', [{ kind: 'status', status: 503, times: 5 }]);
    const res = await post(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
    h.sandbox.reset();
  });
});

describe('bad input: a clear 4xx, zero upstream calls', () => {
  const cases: [string, number, string, string, string, unknown][] = [
    ['bad JSON', 400, 'invalid_json', 'POST', '/v1/audio/speech', '{"model":'],
    ['empty body', 400, 'invalid_json', 'POST', '/v1/audio/speech', ''],
    ['missing input', 400, 'missing_required_parameter', 'POST', '/v1/audio/speech', { model: 'tts-1', voice: 'alloy' }],
    ['oversized input', 400, 'string_above_max_length', 'POST', '/v1/audio/speech', speechBody({ input: 'x'.repeat(5000) })],
    ['unknown model', 400, 'model_not_found', 'POST', '/v1/audio/speech', speechBody({ model: 'tts-7' })],
    ['speed out of range', 400, 'invalid_value', 'POST', '/v1/audio/speech', speechBody({ speed: 9 })],
    ['size out of range', 400, 'invalid_value', 'POST', '/v1/images/generations', { model: 'dall-e-3', prompt: 'x', size: '64x64' }],
    ['n out of range', 400, 'invalid_value', 'POST', '/v1/images/generations', { model: 'dall-e-2', prompt: 'x', n: 50 }],
    ['fal n out of range', 400, 'invalid_value', 'POST', '/v1/images/generations', { model: 'fal-ai/flux/dev', prompt: 'x', n: 9 }],
    ['unknown route', 404, 'unknown_route', 'POST', '/v1/chat/completions', { model: 'gpt-4o' }],
    ['wrong method', 405, 'method_not_allowed', 'GET', '/v1/audio/speech', undefined],
  ];
  test.each(cases)('%s → %i %s', async (_name, status, code, method, path, body) => {
    const stack = await h.stack({ openai: openaiKeys(1), fal: falKeys(1) });
    const before = h.sandbox.calls();
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { message: string; type: string; code: string; param: unknown } };
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(json.error.code).toBe(code);
    expect(json.error.param === null || typeof json.error.param === 'string').toBe(true);
    expect(json.error.message.length).toBeGreaterThan(10);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(h.sandbox.calls()).toBe(before);
  });
});

// Runs last (jest keeps file order): the whole log output of this run, every line the process
// wrote, holds none of the configured keys nor either half of a pair.
test('the integration run logged rotations and never a key, in its output or in DynamoDB', async () => {
  const all = h.output.join('');
  expect(all).toContain('"message":"key rotated"');
  expect(h.forbidden().length).toBeGreaterThan(20);
  for (const secret of h.forbidden()) expect(all).not.toContain(secret);
  const stored = await storedItemsText(h.dynamo.endpoint);
  expect(stored).toContain('PROVIDER_HEALTH#');
  expect(stored).toContain('KEY_STATE#');
  for (const secret of h.forbidden()) expect(stored).not.toContain(secret);
});
