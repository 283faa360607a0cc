import { Readable } from 'node:stream';
import { Fallbacks } from '../../lambda/app/fallback';
import { loadFallbackConfig } from '../../lambda/config/fallbacks';
import { loadConfig } from '../../lambda/config/env';
import { parseSecretKeys } from '../../lambda/config/secret-keys';
import { ImageInput, InvalidRequest, MediaStream, RotationResult, SpeechInput } from '../../lambda/domain';
import type { HealthStatus } from '../../lambda/health/status';
import { imageProviderFor, ProviderId, speechProviderFor } from '../../lambda/providers/registry';

describe('fallback configuration', () => {
  test.each<[string, Record<string, string>, { fallbacks?: unknown; voices?: unknown }, unknown]>([
    ['unset: off', {}, {}, { chains: {}, voices: {} }],
    ['env chain', { MODEL_FALLBACKS: '{"tts-1":["eleven_turbo_v2_5"]}' }, {}, { chains: { 'tts-1': ['eleven_turbo_v2_5'] }, voices: {} }],
    ['image chain of two', { MODEL_FALLBACKS: '{"dall-e-3":["fal-ai/flux/dev","gpt-image-1"]}' }, {}, { chains: { 'dall-e-3': ['fal-ai/flux/dev', 'gpt-image-1'] }, voices: {} }],
    ['secret chain wins per model', { MODEL_FALLBACKS: '{"tts-1":["eleven_turbo_v2_5"],"dall-e-3":["fal-ai/flux/dev"]}' }, { fallbacks: { 'tts-1': ['eleven_multilingual_v2'] } },
      { chains: { 'tts-1': ['eleven_multilingual_v2'], 'dall-e-3': ['fal-ai/flux/dev'] }, voices: {} }],
    ['voice map from env and secret', { VOICE_MAP: '{"alloy":"21m00Tcm4TlvDq8ikWAM"}' }, { voices: { nova: 'JBFqnCBsd6RMkjVDRZzb' } },
      { chains: {}, voices: { alloy: '21m00Tcm4TlvDq8ikWAM', nova: 'JBFqnCBsd6RMkjVDRZzb' } }],
    ['empty chain dropped', { MODEL_FALLBACKS: '{"tts-1":[]}' }, {}, { chains: {}, voices: {} }],
  ])('%s', (_name, env, secret, expected) => {
    expect(loadFallbackConfig(env, secret)).toEqual(expected);
  });

  test.each<[string, Record<string, string>, { fallbacks?: unknown; voices?: unknown }, RegExp]>([
    ['not JSON', { MODEL_FALLBACKS: '{tts-1' }, {}, /^MODEL_FALLBACKS is not valid JSON$/],
    ['not an object', { MODEL_FALLBACKS: '["tts-1"]' }, {}, /MODEL_FALLBACKS must be a JSON object/],
    ['unknown model', { MODEL_FALLBACKS: '{"tts-9":["eleven_turbo_v2_5"]}' }, {}, /unknown model "tts-9"/],
    ['unknown alternative', { MODEL_FALLBACKS: '{"tts-1":["tts-9"]}' }, {}, /MODEL_FALLBACKS.tts-1 entry 1: unknown model "tts-9"/],
    ['crossing capabilities', { MODEL_FALLBACKS: '{"tts-1":["dall-e-3"]}' }, {}, /dall-e-3 is a image model, tts-1 a speech model \(a chain cannot cross capabilities\)/],
    ['job model', { MODEL_FALLBACKS: '{"kling-v1":["tts-1"]}' }, {}, /unknown model "kling-v1" \(only speech and image models can fall back\)/],
    ['itself', { MODEL_FALLBACKS: '{"tts-1":["tts-1"]}' }, {}, /repeats a model/],
    ['alternatives not strings', { MODEL_FALLBACKS: '{"tts-1":[1]}' }, {}, /must be an array of model names/],
    ['secret field named', {}, { fallbacks: { 'dall-e-3': ['tts-1'] } }, /provider keys secret field "fallbacks".dall-e-3 entry 1/],
    ['voice map not JSON', { VOICE_MAP: 'alloy=x' }, {}, /^VOICE_MAP is not valid JSON$/],
    ['voice id malformed', { VOICE_MAP: '{"alloy":"no spaces allowed"}' }, {}, /VOICE_MAP.alloy must be an ElevenLabs voice id/],
  ])('refused: %s', (_name, env, secret, message) => {
    expect(() => loadFallbackConfig(env, secret)).toThrow(message);
  });

  test('loadConfig reads MODEL_FALLBACKS and fails start-up on a bad one', () => {
    expect(loadConfig({ MODEL_FALLBACKS: '{"dall-e-3":["fal-ai/flux/dev"]}' }).fallbacks.chains).toEqual({ 'dall-e-3': ['fal-ai/flux/dev'] });
    expect(() => loadConfig({ MODEL_FALLBACKS: '{"tts-1":["gpt-image-1"]}' })).toThrow(/cannot cross capabilities/);
  });

  test('the secret passes fallbacks and voices through to start-up', () => {
    const s = parseSecretKeys('{"openai":["sk-a"],"fallbacks":{"tts-1":["eleven_turbo_v2_5"]},"voices":{"alloy":"abc"}}');
    expect(s).toEqual({ openai: ['sk-a'], fallbacks: { 'tts-1': ['eleven_turbo_v2_5'] }, voices: { alloy: 'abc' } });
  });
});

const VOICES = { alloy: '21m00Tcm4TlvDq8ikWAM', nova: 'JBFqnCBsd6RMkjVDRZzb' };

/** What the gateway does with an alternative: the target's `adopt`, then its own `validate`. */
function mapSpeech(input: SpeechInput, alt: string) {
  const t = speechProviderFor(alt);
  if (!t) throw new Error(alt);
  return t.validate({ ...t.adopt(input, alt, { voices: VOICES }), model: alt });
}
function mapImage(input: ImageInput, alt: string) {
  const t = imageProviderFor(alt);
  if (!t) throw new Error(alt);
  return t.validate({ ...t.adopt(input, alt, { voices: VOICES }), model: alt });
}

const speech = (over: Partial<SpeechInput> = {}): SpeechInput => ({ model: 'tts-1', input: 'hi', voice: 'alloy', response_format: 'mp3', ...over });
const image = (over: Partial<ImageInput> = {}): ImageInput => ({ model: 'dall-e-3', prompt: 'a fox', n: 1, response_format: 'url', ...over });

describe('speech mapping', () => {
  test.each<[string, SpeechInput, string, Record<string, unknown>]>([
    ['OpenAI voice → mapped ElevenLabs id', speech(), 'eleven_turbo_v2_5', { model: 'eleven_turbo_v2_5', voice: '21m00Tcm4TlvDq8ikWAM', response_format: 'mp3' }],
    ['unmapped OpenAI voice → ElevenLabs default voice', speech({ voice: 'onyx' }), 'eleven_turbo_v2_5', { voice: '21m00Tcm4TlvDq8ikWAM' }],
    ['ElevenLabs → ElevenLabs keeps the voice id', speech({ model: 'eleven_multilingual_v2', voice: 'XyZ123' }), 'eleven_turbo_v2_5', { voice: 'XyZ123' }],
    ['ElevenLabs id → OpenAI voice through the map (reverse)', speech({ model: 'eleven_multilingual_v2', voice: 'JBFqnCBsd6RMkjVDRZzb' }), 'gpt-4o-mini-tts', { voice: 'nova' }],
    ['unmapped ElevenLabs id → OpenAI default voice', speech({ model: 'eleven_multilingual_v2', voice: 'XyZ123' }), 'gpt-4o-mini-tts', { voice: 'alloy' }],
    ['format wav → wav (output_format wav_24000)', speech({ response_format: 'wav' }), 'eleven_turbo_v2_5', { response_format: 'wav' }],
    ['format pcm → pcm', speech({ response_format: 'pcm' }), 'eleven_turbo_v2_5', { response_format: 'pcm' }],
    ['speed inside both ranges kept', speech({ speed: 1.1 }), 'eleven_turbo_v2_5', { speed: 1.1 }],
    ['ElevenLabs speed → OpenAI (0.7–1.2 within 0.25–4)', speech({ model: 'eleven_multilingual_v2', voice: 'XyZ123', speed: 0.7 }), 'tts-1', { speed: 0.7 }],
  ])('%s', (_name, input, alt, expected) => {
    expect(mapSpeech(input, alt)).toMatchObject(expected);
  });

  test.each<[string, SpeechInput, string, RegExp]>([
    ['aac has no output_format', speech({ response_format: 'aac' }), 'eleven_turbo_v2_5', /response_format aac is not available/],
    ['flac has no output_format', speech({ response_format: 'flac' }), 'eleven_turbo_v2_5', /response_format flac/],
    ['speed 2 outside ElevenLabs 0.7–1.2', speech({ speed: 2 }), 'eleven_turbo_v2_5', /'speed' must be between 0.7 and 1.2/],
    ['speed 0.5 outside ElevenLabs 0.7–1.2', speech({ speed: 0.5 }), 'eleven_turbo_v2_5', /'speed' must be between 0.7 and 1.2/],
    ['instructions not on ElevenLabs', speech({ model: 'gpt-4o-mini-tts', instructions: 'whisper' }), 'eleven_turbo_v2_5', /instructions are not supported/],
    ['input too long for eleven_v3', speech({ input: 'x'.repeat(3001) }), 'eleven_v3', /too long/],
  ])('not mapped: %s', (_name, input, alt, message) => {
    expect(() => mapSpeech(input, alt)).toThrow(InvalidRequest);
    expect(() => mapSpeech(input, alt)).toThrow(message);
  });
});

describe('image mapping', () => {
  test.each<[string, ImageInput, string, Record<string, unknown>]>([
    ['dall-e-3 → flux, 1024x1024 kept (sent as square_hd)', image({ size: '1024x1024' }), 'fal-ai/flux/dev', { model: 'fal-ai/flux/dev', size: '1024x1024', n: 1, response_format: 'url' }],
    ['dall-e-3 landscape 1792x1024 → flux custom size', image({ size: '1792x1024' }), 'fal-ai/flux/dev', { size: '1792x1024' }],
    ['b64_json kept (fal sync_mode)', image({ response_format: 'b64_json' }), 'fal-ai/flux/dev', { response_format: 'b64_json' }],
    ['flux n=3 → gpt-image-1 n=3', image({ model: 'fal-ai/flux/dev', n: 3, response_format: 'b64_json' }), 'gpt-image-1', { n: 3 }],
    ['fal preset square_hd → 1024x1024 on gpt-image-1', image({ model: 'fal-ai/flux/dev', size: 'square_hd', response_format: 'b64_json' }), 'gpt-image-1', { size: '1024x1024' }],
    ['fal quality hd → gpt-image high', image({ model: 'fal-ai/flux/dev', quality: 'hd', response_format: 'b64_json' }), 'gpt-image-1', { quality: 'high' }],
    ['gpt-image quality high → fal hd: accepted, not refused', image({ model: 'gpt-image-1', quality: 'high', response_format: 'b64_json' }), 'fal-ai/flux/dev', { n: 1, model: 'fal-ai/flux/dev' }],
    ['flux n=1 → dall-e-3', image({ model: 'fal-ai/flux/dev' }), 'dall-e-3', { n: 1, model: 'dall-e-3' }],
  ])('%s', (_name, input, alt, expected) => {
    expect(mapImage(input, alt)).toMatchObject(expected);
  });

  test.each<[string, ImageInput, string, RegExp]>([
    ['dall-e-3 allows n=1 only', image({ model: 'fal-ai/flux/dev', n: 2 }), 'dall-e-3', /n must be between 1 and 1/],
    ['flux allows n ≤ 4', image({ model: 'gpt-image-1', n: 5, response_format: 'b64_json' }), 'fal-ai/flux/dev', /n must be between 1 and 4/],
    ['gpt-image answers b64_json only: url not faithful', image({ model: 'fal-ai/flux/dev' }), 'gpt-image-1', /answers b64_json only/],
    ['style has no fal equivalent', image({ style: 'vivid' }), 'fal-ai/flux/dev', /style is not supported/],
    ['a fal preset dall-e-3 has no size for', image({ model: 'fal-ai/flux/dev', size: 'landscape_16_9' }), 'dall-e-3', /size "landscape_16_9" is not supported/],
    ['a flux custom size dall-e-3 does not have', image({ model: 'fal-ai/flux/dev', size: '1024x768' }), 'dall-e-3', /size "1024x768" is not supported/],
  ])('not mapped: %s', (_name, input, alt, message) => {
    expect(() => mapImage(input, alt)).toThrow(message);
  });
});

type R = RotationResult<MediaStream>;
const ok = (): R => ({ ok: true, value: { contentType: 'audio/mpeg', body: Readable.from([]) }, attempts: 1, keyId: 'k', keyFingerprint: 'f' });
const fail = (kind: string, attempts = 2): R => ({ ok: false, failure: { kind } as never, attempts });

function harness(status: Record<string, HealthStatus> = {}, chains: Record<string, string[]> = { 'tts-1': ['eleven_turbo_v2_5', 'eleven_multilingual_v2'] }) {
  let now = 1_000_000;
  const logs: { message: string; fields?: Record<string, unknown> }[] = [];
  const fellBack: string[] = [];
  const log = { debug: () => undefined, info: (message: string, fields?: Record<string, unknown>) => logs.push({ message, fields }), warn: (message: string, fields?: Record<string, unknown>) => logs.push({ message, fields }), error: () => undefined };
  const fb = new Fallbacks({ chains, voices: {} }, { clock: () => now, log, status: (p) => status[p], fellBack: (p) => fellBack.push(p), retryDownMs: 20_000 });
  const calls: string[] = [];
  const serve = (results: Record<string, R[]>, chain = fb.chain('tts-1'), unmappable: string[] = [], gone?: AbortSignal) =>
    fb.serve<{ model: string }>({ provider: 'openai-tts', model: 'tts-1', req: { model: 'tts-1' } }, chain, now + 10_000,
      (alt) => {
        if (unmappable.includes(alt)) throw new InvalidRequest(`cannot map to ${alt}`, 'x');
        return { provider: 'elevenlabs-tts' as ProviderId, model: alt, req: { model: alt } };
      },
      async (c) => {
        calls.push(c.model);
        return results[c.model].shift() ?? ok();
      },
      gone);
  return { fb, serve, calls, logs, fellBack, tick: (ms: number) => (now += ms) };
}

describe('when to fall back', () => {
  test.each(['no_usable_key', 'all_keys_cooling', 'upstream_failed'])('%s on the primary: served by the first alternative', async (kind) => {
    const h = harness();
    const r = await h.serve({ 'tts-1': [fail(kind)], eleven_turbo_v2_5: [ok()] });
    expect(r).toMatchObject({ ok: true, provider: 'elevenlabs-tts', from: 'openai-tts', attempts: 3 });
    expect(h.calls).toEqual(['tts-1', 'eleven_turbo_v2_5']);
    expect(h.fellBack).toEqual(['openai-tts']);
    expect(h.logs.find((l) => l.message.includes('fell back'))?.fields).toEqual({ provider: 'openai-tts', model: 'tts-1', reason: kind, target: 'elevenlabs-tts', targetModel: 'eleven_turbo_v2_5' });
  });

  test.each(['upstream_rejected', 'outcome_unknown', 'deadline_exceeded'])('%s: never falls back', async (kind) => {
    const h = harness();
    const r = await h.serve({ 'tts-1': [fail(kind)] });
    expect(r).toMatchObject({ ok: false, provider: 'openai-tts' });
    expect(r.from).toBeUndefined();
    expect(h.calls).toEqual(['tts-1']);
    expect(h.fellBack).toEqual([]);
  });

  test('a client gone while the primary queued: no alternative is tried for it', async () => {
    const h = harness();
    const client = new AbortController();
    client.abort();
    const r = await h.serve({ 'tts-1': [fail('all_keys_cooling', 0)] }, undefined, [], client.signal);
    expect(r).toMatchObject({ ok: false, provider: 'openai-tts' });
    expect(h.calls).toEqual(['tts-1']);
    expect(h.fellBack).toEqual([]);
  });

  test('the chain in order: the second alternative when the first cannot serve either', async () => {
    const h = harness();
    const r = await h.serve({ 'tts-1': [fail('upstream_failed')], eleven_turbo_v2_5: [fail('no_usable_key')], eleven_multilingual_v2: [ok()] });
    expect(r).toMatchObject({ ok: true, from: 'openai-tts' });
    expect(h.calls).toEqual(['tts-1', 'eleven_turbo_v2_5', 'eleven_multilingual_v2']);
  });

  test('an unmappable alternative is not sent, and the log says why', async () => {
    const h = harness();
    const r = await h.serve({ 'tts-1': [fail('upstream_failed')], eleven_multilingual_v2: [ok()] }, undefined, ['eleven_turbo_v2_5']);
    expect(h.calls).toEqual(['tts-1', 'eleven_multilingual_v2']);
    expect(r.ok).toBe(true);
    expect(h.logs.find((l) => l.message === 'fallback not possible')?.fields).toMatchObject({ target: 'eleven_turbo_v2_5', reason: 'cannot map to eleven_turbo_v2_5' });
  });

  test('nothing mappable: the primary\'s failure is the answer', async () => {
    const h = harness();
    const r = await h.serve({ 'tts-1': [fail('upstream_failed')] }, undefined, ['eleven_turbo_v2_5', 'eleven_multilingual_v2']);
    expect(r).toMatchObject({ ok: false, provider: 'openai-tts' });
    expect(r.from).toBeUndefined();
  });

  test('STATUS down: skipped at once, except one trial per interval; a served trial ends the skipping', async () => {
    const h = harness({ 'openai-tts': 'down' });
    await h.serve({ 'tts-1': [fail('upstream_failed')], eleven_turbo_v2_5: [ok()] }); // the interval's trial
    expect(h.calls).toEqual(['tts-1', 'eleven_turbo_v2_5']);
    h.calls.length = 0;
    const skipped = await h.serve({ eleven_turbo_v2_5: [ok()] });
    expect(skipped).toMatchObject({ ok: true, provider: 'elevenlabs-tts', from: 'openai-tts' });
    expect(h.calls).toEqual(['eleven_turbo_v2_5']);
    expect(h.logs.at(-1)?.fields).toMatchObject({ reason: 'status_down' });
    h.tick(20_000);
    h.calls.length = 0;
    await h.serve({ 'tts-1': [ok()] }); // next trial: healed
    await h.serve({ 'tts-1': [ok()] }); // STATUS still says down, but this instance saw it serve
    expect(h.calls).toEqual(['tts-1', 'tts-1']);
  });

  test('degraded is not down: tried first', async () => {
    const h = harness({ 'openai-tts': 'degraded' });
    await h.serve({ 'tts-1': [ok()] });
    expect(h.calls).toEqual(['tts-1']);
  });

  test('no chain (none): the primary only', async () => {
    const h = harness({ 'openai-tts': 'down' });
    const r = await h.serve({ 'tts-1': [fail('upstream_failed')] }, h.fb.chain('tts-1', 'none'));
    expect(r.ok).toBe(false);
    expect(h.calls).toEqual(['tts-1']);
  });
});

describe('x-nanobot-fallback narrows the chain', () => {
  const { fb } = harness();
  test.each<[string | undefined, string[]]>([
    [undefined, ['eleven_turbo_v2_5', 'eleven_multilingual_v2']],
    ['', ['eleven_turbo_v2_5', 'eleven_multilingual_v2']],
    ['none', []],
    ['NONE', []],
    ['eleven_multilingual_v2', ['eleven_multilingual_v2']],
    ['eleven_multilingual_v2, eleven_turbo_v2_5', ['eleven_turbo_v2_5', 'eleven_multilingual_v2']],
  ])('%p', (header, chain) => {
    expect(fb.chain('tts-1', header)).toEqual(chain);
  });

  test.each([['gpt-4o-mini-tts'], ['eleven_turbo_v2_5,dall-e-3']])('outside the chain: 400 (%s)', (header) => {
    expect(() => fb.chain('tts-1', header)).toThrow(InvalidRequest);
    expect(() => fb.chain('tts-1', header)).toThrow(/is not in the fallback chain of tts-1/);
  });

  test('a model with no chain accepts none, refuses any list', () => {
    expect(fb.chain('tts-1-hd', 'none')).toEqual([]);
    expect(() => fb.chain('tts-1-hd', 'eleven_turbo_v2_5')).toThrow(/none configured/);
  });
});
