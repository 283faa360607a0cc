import { Harness, speechBody } from './harness';

/**
 * Fallback chains through the local server (the Lambda app behind the API Gateway adapter) against
 * the provider sandbox over real HTTP and dynalite: each trigger falls back, a bad request does
 * not, a client cannot widen the chain, an unmappable request is not sent, and health, logs and
 * headers say who served.
 */
const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());

const RACHEL = '21m00Tcm4TlvDq8ikWAM';
const NOVA_ID = 'JBFqnCBsd6RMkjVDRZzb';
const ENV = {
  MODEL_FALLBACKS: JSON.stringify({ 'tts-1': ['eleven_turbo_v2_5'], 'dall-e-3': ['fal-ai/flux/dev'], 'eleven_multilingual_v2': ['gpt-4o-mini-tts'] }),
  VOICE_MAP: JSON.stringify({ alloy: RACHEL, nova: NOVA_ID }),
  MAX_ATTEMPTS: '2',
};

/** A stack whose OpenAI keys the sandbox no longer accepts (every one revoked: disabled, then no usable key). */
async function revokedOpenAI(env: Record<string, string> = {}) {
  const keys = h.keys('openai', 2);
  for (const k of keys) h.sandbox.revokeKey('openai', k);
  const el = h.keys('elevenlabs', 1);
  const fal = h.keys('fal', 1);
  const stack = await h.stack({ openai: keys, elevenlabs: el, fal }, { ...ENV, ...env });
  return { stack, keys, el, fal };
}

const calls = (vendor: 'openai' | 'elevenlabs' | 'fal', key: string) => h.sandbox.calls({ vendor, key });

describe('each trigger falls back, and the answer names both providers', () => {
  test('no_usable_key (keys revoked): served by ElevenLabs with the mapped voice', async () => {
    const { stack, el } = await revokedOpenAI();
    const from = h.output.length;
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('audio/mpeg');
    expect(res.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(res.headers['x-nanobot-fallback-from']).toBe('openai-tts');
    expect(calls('elevenlabs', el[0])).toBe(1);
    expect(h.sandbox.log().some((r) => r.vendor === 'elevenlabs' && r.path === `/v1/text-to-speech/${RACHEL}/stream`)).toBe(true);
    const line = h.output.slice(from).join('').split('\n').find((l) => l.includes('fell back'));
    expect(line).toBeDefined();
    expect(JSON.parse(line as string)).toMatchObject({ provider: 'openai-tts', model: 'tts-1', reason: expect.any(String), target: 'elevenlabs-tts', targetModel: 'eleven_turbo_v2_5' });
    // Every key disabled now: the next request finds no usable key, calls OpenAI no more, and falls back.
    const openaiCalls = h.sandbox.calls({ vendor: 'openai' });
    const next = h.output.length;
    const again = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(again.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(h.sandbox.calls({ vendor: 'openai' })).toBe(openaiCalls);
    expect(h.output.slice(next).join('')).toContain('"reason":"no_usable_key"');
  });

  test('upstream_failed (every attempt a 5xx): served by the alternative', async () => {
    const openai = h.keys('openai', 1);
    const el = h.keys('elevenlabs', 1);
    h.sandbox.injectFaults('openai', [{ kind: 'status', status: 500, times: 2, key: openai[0] }]);
    const stack = await h.stack({ openai, elevenlabs: el }, ENV);
    const from = h.output.length;
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody({ voice: 'nova' }));
    expect(res.status).toBe(200);
    expect(res.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(res.headers['x-nanobot-fallback-from']).toBe('openai-tts');
    expect(res.attempts).toBe(3);
    expect(calls('openai', openai[0])).toBe(2);
    expect(h.sandbox.log().some((r) => r.path === `/v1/text-to-speech/${NOVA_ID}/stream`)).toBe(true);
    expect(h.output.slice(from).join('')).toContain('"reason":"upstream_failed"');
  });

  test('all_keys_cooling (the only key rate limited for a minute): served by the alternative', async () => {
    const openai = h.keys('openai', 1);
    const el = h.keys('elevenlabs', 1);
    h.sandbox.configureKey('openai', openai[0], { rateLimit: { calls: 0, windowMs: 60_000 }, retryHint: 'seconds' });
    const stack = await h.stack({ openai, elevenlabs: el }, ENV);
    const from = h.output.length;
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(200);
    expect(res.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(h.output.slice(from).join('')).toMatch(/"reason":"(all_keys_cooling|upstream_failed)"/);
    // The next request finds the key cooling at once: all_keys_cooling, no OpenAI call.
    const before = calls('openai', openai[0]);
    const again = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(again.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(calls('openai', openai[0])).toBe(before);
    expect(h.output.slice(from).join('')).toContain('"reason":"all_keys_cooling"');
  });

  test('ElevenLabs → OpenAI: eleven_multilingual_v2 → gpt-4o-mini-tts, wav from OpenAI (the voice mapping itself: unit tests)', async () => {
    const el = h.keys('elevenlabs', 1);
    h.sandbox.revokeKey('elevenlabs', el[0]);
    const openai = h.keys('openai', 1);
    const stack = await h.stack({ openai, elevenlabs: el }, ENV);
    const mark = h.sandbox.log().length;
    const res = await h.send(`${stack.url}/v1/audio/speech`, { model: 'eleven_multilingual_v2', input: 'Hallo', voice: NOVA_ID, response_format: 'wav' });
    expect(res.status).toBe(200);
    expect(res.headers['x-nanobot-provider']).toBe('openai-tts');
    expect(res.headers['x-nanobot-fallback-from']).toBe('elevenlabs-tts');
    expect(res.bytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
    const call = h.sandbox.log().slice(mark).find((r) => r.vendor === 'openai');
    expect(call?.path).toContain('/audio/speech');
    expect(calls('openai', openai[0])).toBe(1);
  });

  test('images: dall-e-3 → fal-ai/flux/dev, answered in the OpenAI shape', async () => {
    const { stack, fal } = await revokedOpenAI();
    const res = await h.send(`${stack.url}/v1/images/generations`, { model: 'dall-e-3', prompt: 'a lighthouse', size: '1024x1024' });
    expect(res.status).toBe(200);
    expect(res.headers['x-nanobot-provider']).toBe('fal-flux');
    expect(res.headers['x-nanobot-fallback-from']).toBe('openai-image');
    expect((JSON.parse(res.text) as { data: { url: string }[] }).data[0].url).toMatch(/^http/);
    expect(calls('fal', fal[0])).toBe(1);
  });

  test('STATUS down: the primary is skipped at once (no call to it), one trial per interval', async () => {
    const openai = h.keys('openai', 1);
    const el = h.keys('elevenlabs', 1);
    h.sandbox.injectFaults('openai', [{ kind: 'status', status: 503, times: 2, key: openai[0] }]);
    const stack = await h.stack({ openai, elevenlabs: el }, { ...ENV, TABLE_NAME: `fallback-status-${Date.now()}` });
    const rt = stack.runtime;
    await rt.store.putStatus('openai-tts', { status: 'down', reason: 'most requests fail', requests: 10, successes: 0, failures: 10, successRate: 0, p50Ms: null, p95Ms: null, ttfbP50Ms: null, ttfbP95Ms: null, queued: 0, queueP95Ms: null, queueRefused: 0, queueWaitSumMs: 0 }, Date.now());
    await rt.statusView.refresh();
    const trial = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(trial.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(calls('openai', openai[0])).toBe(2);
    const from = h.output.length;
    const skipped = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(skipped.status).toBe(200);
    expect(skipped.headers['x-nanobot-fallback-from']).toBe('openai-tts');
    expect(calls('openai', openai[0])).toBe(2);
    expect(h.output.slice(from).join('')).toContain('"reason":"status_down"');
  });
});

describe('what never falls back', () => {
  test('a request the provider refuses (400, upstream_rejected) is the client\'s: no alternative called', async () => {
    const openai = h.keys('openai', 1);
    const el = h.keys('elevenlabs', 1);
    h.sandbox.injectFaults('openai', [{ kind: 'status', status: 400, key: openai[0] }]);
    const stack = await h.stack({ openai, elevenlabs: el }, ENV);
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(400);
    expect(res.headers['x-nanobot-provider']).toBe('openai-tts');
    expect(res.headers['x-nanobot-fallback-from']).toBeUndefined();
    expect(calls('elevenlabs', el[0])).toBe(0);
  });

  test('an answer cut after its first byte is not restarted elsewhere', async () => {
    const openai = h.keys('openai', 1);
    const el = h.keys('elevenlabs', 1);
    h.sandbox.injectFaults('openai', [{ kind: 'truncated_audio', key: openai[0] }]);
    const stack = await h.stack({ openai, elevenlabs: el }, ENV);
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBe(200);
    expect(res.headers['x-nanobot-provider']).toBe('openai-tts');
    expect(res.headers['x-nanobot-fallback-from']).toBeUndefined();
    expect(calls('elevenlabs', el[0])).toBe(0);
  });

  test('our own 400 (validation) calls nobody', async () => {
    const { stack, el } = await revokedOpenAI();
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody({ voice: 'nobody' }));
    expect(res.status).toBe(400);
    expect(calls('elevenlabs', el[0])).toBe(0);
  });

  test('an unmappable request (aac: ElevenLabs has no output_format) is not sent; the log says why', async () => {
    const { stack, el } = await revokedOpenAI();
    const from = h.output.length;
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody({ response_format: 'aac' }));
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers['x-nanobot-provider']).toBe('openai-tts');
    expect(calls('elevenlabs', el[0])).toBe(0);
    const line = h.output.slice(from).join('').split('\n').find((l) => l.includes('fallback not possible'));
    expect(JSON.parse(line as string)).toMatchObject({ provider: 'openai-tts', target: 'eleven_turbo_v2_5', reason: expect.stringContaining('aac') });
  });

  test('x-nanobot-fallback: a model outside the chain is a 400; none keeps the primary\'s failure', async () => {
    const { stack, el } = await revokedOpenAI();
    const outside = await h.send(`${stack.url}/v1/audio/speech`, speechBody(), { headers: { 'content-type': 'application/json', 'x-nanobot-fallback': 'eleven_multilingual_v2' } });
    expect(outside.status).toBe(400);
    expect(outside.code).toBe('fallback_not_allowed');
    const none = await h.send(`${stack.url}/v1/audio/speech`, speechBody(), { headers: { 'content-type': 'application/json', 'x-nanobot-fallback': 'none' } });
    expect(none.status).toBeGreaterThanOrEqual(500);
    expect(none.headers['x-nanobot-provider']).toBe('openai-tts');
    const inside = await h.send(`${stack.url}/v1/audio/speech`, speechBody(), { headers: { 'content-type': 'application/json', 'x-nanobot-fallback': 'eleven_turbo_v2_5' } });
    expect(inside.headers['x-nanobot-provider']).toBe('elevenlabs-tts');
    expect(calls('elevenlabs', el[0])).toBe(1);
  });

  test('unconfigured: off (no chain, no fallback)', async () => {
    const keys = h.keys('openai', 1);
    h.sandbox.revokeKey('openai', keys[0]);
    const el = h.keys('elevenlabs', 1);
    const stack = await h.stack({ openai: keys, elevenlabs: el });
    const res = await h.send(`${stack.url}/v1/audio/speech`, speechBody());
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(calls('elevenlabs', el[0])).toBe(0);
  });
});

test('health counts the request on each provider it touched, and a fallback on the primary', async () => {
  const { stack } = await revokedOpenAI({ TABLE_NAME: `fallback-health-${Date.now()}` });
  for (let i = 0; i < 3; i++) expect((await h.send(`${stack.url}/v1/audio/speech`, speechBody())).status).toBe(200);
  const health = (await (await fetch(`${stack.url}/v1/health`)).json()) as { providers: Record<string, { requests: number; successes: number; failures: number; fallbacks: number }> };
  expect(health.providers['openai-tts']).toMatchObject({ fallbacks: 3 });
  expect(health.providers['openai-tts'].failures).toBeGreaterThanOrEqual(1);
  expect(health.providers['elevenlabs-tts']).toMatchObject({ requests: 3, successes: 3, fallbacks: 0 });
});
