import { Harness, Reply } from '../support/harness';
import type { Vendor } from '../../scripts/sandbox';

/**
 * Hardening, item 2: a valid key refused access to one operation — a missing scope (OpenAI 401 with
 * `code: null`, as seen in the wild, or 403; ElevenLabs 401 `missing_permissions`), a model its
 * project may not use (OpenAI 403 `model_not_found`), an app it may not call (fal 403 that is not an
 * account lock), a model it has no permission for (Kling 403 / 1103) — fails one request in N
 * forever if it is taken for a bad request, and takes every operation down with it if taken for an
 * invalid key. Here it is kept out of that provider only, at once, counted in health and in the
 * KeysDisabled metric; only when every key is refused the same way is it the request's fault.
 * Through the local server against the sandbox over HTTP; calls are counted at the sandbox.
 */
const h = new Harness({ quiet: true, fill: 'sandbox', fastBackoff: true });
let n = 0;
const fresh = (vendor: Vendor, count: number) => {
  n += 1;
  return h.keys(vendor, count).map((k) => k.replace(/^(sk-|el|AK|)/, `$1r${n}`));
};
const speech = { model: 'tts-1', input: 'hello', voice: 'alloy' };
const image = (model = 'dall-e-2') => ({ model, prompt: 'a fox', size: model === 'dall-e-3' ? '1024x1024' : '256x256' });
const eleven = { model: 'eleven_turbo_v2_5', input: 'hallo', voice: 'JBFqnCBsd6RMkjVDRZzb' };

/** EMF lines the gateway writes while `run` goes (metrics on for the stacks it creates). */
async function withMetrics(run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const from = h.output.length;
  const saved = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  try {
    await run();
  } finally {
    process.env.POWERTOOLS_METRICS_DISABLED = saved;
  }
  return h.output.slice(from).join('').split('\n').filter((l) => l.startsWith('{"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function health(url: string): Promise<Record<string, { keys: { total: number; available: number; disabled: number }; status: string }>> {
  const res = await h.send(`${url}/v1/health`, undefined, { method: 'GET' });
  return (JSON.parse(res.text) as { providers: Record<string, never> }).providers;
}

const get = (url: string, path: string, body: unknown): Promise<Reply> => h.send(`${url}${path}`, body);

beforeAll(() => h.start());
afterAll(() => h.stop());

describe.each([401, 403] as const)('OpenAI key missing the speech scope (answered %i)', (scopeStatus) => {
  test('kept out of openai-tts at once, still serving openai-image; health and KeysDisabled count it', async () => {
    const [restricted, healthy] = fresh('openai', 2);
    h.sandbox.configureKey('openai', restricted, { restrict: { missingScopes: ['api.model.audio.request'], scopeStatus } });
    const from = h.output.length;
    let url = '';
    const emf = await withMetrics(async () => {
      url = (await h.stack({ openai: [restricted, healthy] })).url;
      for (let i = 0; i < 6; i++) {
        expect((await get(url, '/v1/audio/speech', speech)).status).toBe(200);
        expect((await get(url, '/v1/images/generations', image())).status).toBe(200);
      }
    });
    // One refused speech call, then never again for speech; images go on round-robin over both keys.
    expect(h.sandbox.log().filter((r) => r.key === restricted && r.path === '/v1/audio/speech').map((r) => r.status)).toEqual([scopeStatus]);
    expect(h.sandbox.calls({ key: restricted, pathIncludes: '/images/' })).toBe(3);
    const providers = await health(url);
    expect(providers['openai-tts'].keys).toMatchObject({ total: 2, available: 1, disabled: 1 });
    expect(providers['openai-tts'].status).toBe('degraded');
    expect(providers['openai-image'].keys).toMatchObject({ total: 2, available: 2, disabled: 0 });
    const disabled = emf.filter((m) => m.KeysDisabled !== undefined);
    expect(disabled).toEqual([expect.objectContaining({ provider: 'openai-tts', KeysDisabled: 1, Successes: 1 })]);
    expect(h.logLines(from, 'key disabled').filter((l) => l.includes('"reason":"key_forbidden"') && l.includes('"provider":"openai-tts"'))).toHaveLength(1);
  });
});

test('a genuine invalid OpenAI key (401 invalid_api_key) is still disabled for every provider of the vendor', async () => {
  const [invalid, healthy] = fresh('openai', 2);
  h.sandbox.configureKey('openai', invalid, { state: 'invalid' });
  const { url } = await h.stack({ openai: [invalid, healthy] });
  for (let i = 0; i < 4; i++) {
    expect((await get(url, '/v1/audio/speech', speech)).status).toBe(200);
    expect((await get(url, '/v1/images/generations', image())).status).toBe(200);
  }
  expect(h.sandbox.calls({ key: invalid })).toBe(1);
  const providers = await health(url);
  expect(providers['openai-tts'].keys).toMatchObject({ disabled: 1 });
  expect(providers['openai-image'].keys).toMatchObject({ disabled: 1 });
});

test('OpenAI project without a model (403 model_not_found): out of openai-image, still serving speech', async () => {
  const [lacking, healthy] = fresh('openai', 2);
  h.sandbox.configureKey('openai', lacking, { restrict: { deniedModels: ['dall-e-3'] } });
  const { url } = await h.stack({ openai: [lacking, healthy] });
  for (let i = 0; i < 4; i++) {
    expect((await get(url, '/v1/images/generations', image('dall-e-3'))).status).toBe(200);
    expect((await get(url, '/v1/audio/speech', speech)).status).toBe(200);
  }
  expect(h.sandbox.log().filter((r) => r.key === lacking && r.path.includes('/images/')).map((r) => r.status)).toEqual([403]);
  expect(h.sandbox.calls({ key: lacking, pathIncludes: '/audio/' })).toBe(2);
});

test('every key refused the same way: the request\'s fault — answered 400 with the code, keys kept in, not counted against health', async () => {
  const keys = fresh('openai', 2);
  for (const k of keys) h.sandbox.configureKey('openai', k, { restrict: { deniedModels: ['dall-e-3'] } });
  const from = h.output.length;
  const { url } = await h.stack({ openai: keys });
  const refused = await get(url, '/v1/images/generations', image('dall-e-3'));
  expect(refused.status).toBe(400);
  expect(refused.code).toBe('model_not_found');
  expect(refused.attempts).toBe(2);
  expect(h.logLines(from, 'every key refused the request the same way; keys kept in').some((l) => l.includes('"provider":"openai-image"'))).toBe(true);
  // The keys were not the problem: both still serve the provider's other models.
  expect((await health(url))['openai-image'].keys).toMatchObject({ available: 2, disabled: 0 });
  for (let i = 0; i < 2; i++) expect((await get(url, '/v1/images/generations', image())).status).toBe(200);
  for (const k of keys) expect(h.sandbox.calls({ key: k })).toBe(2);
});

test('ElevenLabs key without text_to_speech (401 missing_permissions): kept out, the other key serves', async () => {
  const [restricted, healthy] = fresh('elevenlabs', 2);
  h.sandbox.configureKey('elevenlabs', restricted, { restrict: { missingScopes: ['text_to_speech'] } });
  const from = h.output.length;
  const { url } = await h.stack({ elevenlabs: [restricted, healthy] });
  for (let i = 0; i < 5; i++) expect((await get(url, '/v1/audio/speech', eleven)).status).toBe(200);
  expect(h.sandbox.log().filter((r) => r.key === restricted).map((r) => r.status)).toEqual([401]);
  expect((await health(url))['elevenlabs-tts'].keys).toMatchObject({ total: 2, available: 1, disabled: 1 });
  // Not taken for an invalid key (the same 401 status): the key is fine for the endpoints it may use.
  expect(h.logLines(from, 'key disabled')).toEqual([expect.stringContaining('"reason":"key_forbidden"')]);
});

test('fal key refused an app (403, not an account lock): out of fal-flux, still serving fal-stable-audio', async () => {
  const [restricted, healthy] = fresh('fal', 2);
  h.sandbox.configureKey('fal', restricted, { restrict: { deniedModels: ['fal-ai/flux/dev'] } });
  const { url } = await h.stack({ fal: [restricted, healthy] });
  for (let i = 0; i < 4; i++) {
    expect((await get(url, '/v1/images/generations', { model: 'fal-ai/flux/dev', prompt: 'a fox' })).status).toBe(200);
    expect((await get(url, '/v1/audio/generations', { model: 'fal-ai/stable-audio', prompt: 'piano', seconds: 3 })).status).toBe(200);
  }
  expect(h.sandbox.log().filter((r) => r.key === restricted && r.base === '/fal').map((r) => r.status)).toEqual([403]);
  expect(h.sandbox.calls({ key: restricted, pathIncludes: 'stable-audio' })).toBe(2);
  const providers = await health(url);
  expect(providers['fal-flux'].keys).toMatchObject({ disabled: 1 });
  expect(providers['fal-stable-audio'].keys).toMatchObject({ disabled: 0 });
});

test('Kling key without permission for the model (403 / 1103): kept out, the other key creates the videos', async () => {
  const [restricted, healthy] = h.keys('kling', 2);
  h.sandbox.configureKey('kling', restricted, { restrict: { deniedModels: ['kling-v1'] } });
  const from = h.output.length;
  const { url } = await h.stack({ kling: [restricted, healthy] });
  for (let i = 0; i < 3; i++) expect((await get(url, '/v1/videos', { model: 'kling-v1', prompt: `boat ${i}` })).status).toBe(200);
  const access = restricted.split(':')[0];
  expect(h.sandbox.log().filter((r) => r.key === access).map((r) => r.status)).toEqual([403]);
  expect((await health(url))['kling-video'].keys).toMatchObject({ total: 2, disabled: 1 });
  expect(h.logLines(from, 'key disabled')).toEqual([expect.stringContaining('"reason":"key_forbidden"')]);
});

test('no key leaked along the way', () => {
  expect(h.leaks()).toEqual([]);
});
