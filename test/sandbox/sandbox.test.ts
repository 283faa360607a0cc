/**
 * Provider sandbox: real HTTP on loopback with global fetch. A fake clock drives rate-limit windows,
 * job progression and JWT times, so nothing here waits except the slow_* faults (~150 ms each).
 */
import OpenAI from 'openai';
import { klingJwt, splitKlingEntry, startSandbox, type RetryHint, type Sandbox } from '../../scripts/sandbox';

let now = Date.UTC(2026, 0, 15, 12, 0, 0);
const advance = (ms: number): void => {
  now += ms;
};
let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({ jobDurationMs: 1000, now: () => now });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => sb.reset());

interface OpenAIErr {
  error: { message: string; type: string; param: string | null; code: string | null };
}
interface ElevenErr {
  detail: { status: string; message: string } | { loc: (string | number)[]; msg: string; type: string }[];
}
interface KlingBody {
  code: number;
  message: string;
  request_id: string;
  data: {
    task_id: string;
    task_status: string;
    task_status_msg?: string;
    task_info: { external_task_id?: string };
    task_result?: { videos: { id: string; url: string; duration: string }[] };
    created_at: number;
    updated_at: number;
  };
}
interface FalSubmit {
  request_id: string;
  response_url: string;
  status_url: string;
  cancel_url: string;
  status: string;
  queue_position: number;
}

const oaKey = (i = 0): string => sb.defaultKeys.openai[i] ?? '';
const elKey = (i = 0): string => sb.defaultKeys.elevenlabs[i] ?? '';
const falKey = (i = 0): string => sb.defaultKeys.fal[i] ?? '';
const klEntry = (i = 0): string => sb.defaultKeys.kling[i] ?? '';
const jwt = (entry = klEntry(), at = now): string => {
  const { access, secret } = splitKlingEntry(entry);
  return klingJwt(access, secret, at);
};

function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}
const speech = (key: string, body: Record<string, unknown> = {}): Promise<Response> =>
  post(`${sb.urls.openai}/audio/speech`, { authorization: `Bearer ${key}` }, { model: 'tts-1', input: 'hello there', voice: 'alloy', ...body });
const images = (key: string, body: Record<string, unknown> = {}): Promise<Response> =>
  post(`${sb.urls.openai}/images/generations`, { authorization: `Bearer ${key}` }, { model: 'dall-e-2', prompt: 'a red fox', ...body });
const tts = (key: string, voice = '21m00Tcm4TlvDq8ikWAM', body: Record<string, unknown> = { text: 'hello', model_id: 'eleven_multilingual_v2' }, query = ''): Promise<Response> =>
  post(`${sb.urls.elevenlabs}/v1/text-to-speech/${voice}${query}`, { 'xi-api-key': key }, body);
const flux = (key: string, body: Record<string, unknown> = { prompt: 'a lighthouse' }, app = 'fal-ai/flux/dev'): Promise<Response> =>
  post(`${sb.urls.fal}/${app}`, { authorization: `Key ${key}` }, body);
const klingCreate = (token: string, body: Record<string, unknown> = { model_name: 'kling-v1', prompt: 'a cat surfing' }): Promise<Response> =>
  post(`${sb.urls.kling}/v1/videos/text2video`, { authorization: `Bearer ${token}` }, body);
const klingGet = (token: string, id: string): Promise<Response> => fetch(`${sb.urls.kling}/v1/videos/text2video/${id}`, { headers: { authorization: `Bearer ${token}` } });
const bytes = async (r: Response): Promise<Buffer> => Buffer.from(await r.arrayBuffer());
const j = async <T>(r: Response): Promise<T> => (await r.json()) as T;

describe('urls and keys', () => {
  it('exposes one port with a prefix per vendor and demo keys in the real shapes', async () => {
    expect(sb.urls.openai).toBe(`http://127.0.0.1:${sb.port}/openai/v1`);
    expect(sb.urls.falQueue).toBe(`http://127.0.0.1:${sb.port}/fal-queue`);
    for (const k of sb.defaultKeys.openai) expect(k).toMatch(/^sk-sandbox-/);
    for (const k of sb.defaultKeys.elevenlabs) expect(k).toMatch(/^sandbox[0-9a-f]{25}$/);
    for (const k of sb.defaultKeys.fal) expect(k).toMatch(/^[^:]+:[^:]+$/);
    for (const k of sb.defaultKeys.kling) expect(k).toMatch(/^[A-Z0-9]+:.+$/);
    const index = await fetch(`http://127.0.0.1:${sb.port}/`);
    expect(index.status).toBe(200);
  });
});

describe('OpenAI', () => {
  it('speech: audio per response_format with request id and rate-limit headers', async () => {
    const r = await speech(oaKey());
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('audio/mpeg');
    expect(r.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(r.headers.get('openai-processing-ms')).toMatch(/^\d+$/);
    expect(r.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    expect(r.headers.get('x-ratelimit-reset-requests')).toBe('20s');
    const mp3 = await bytes(r);
    expect(mp3[0]).toBe(0xff);
    expect((mp3[1] ?? 0) & 0xe0).toBe(0xe0); // MPEG frame sync
    const expected: Record<string, [string, (b: Buffer) => boolean]> = {
      wav: ['audio/wav', (b) => b.subarray(0, 4).toString() === 'RIFF' && b.subarray(8, 12).toString() === 'WAVE'],
      pcm: ['audio/pcm', (b) => b.length === 48000],
      opus: ['audio/ogg', (b) => b.subarray(0, 4).toString() === 'OggS'],
      flac: ['audio/flac', (b) => b.subarray(0, 4).toString() === 'fLaC'],
      aac: ['audio/aac', (b) => b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0],
    };
    for (const [format, [type, check]] of Object.entries(expected)) {
      const key = `sk-fmt-${format}-0123456789abcdef`; // a fresh plausible key each: stays under the limit
      const res = await speech(key, { response_format: format });
      expect([format, res.status, res.headers.get('content-type')]).toEqual([format, 200, type]);
      expect(check(await bytes(res))).toBe(true);
    }
  });

  it('speech: validation errors are 400 invalid_request_error (404 for an unknown model)', async () => {
    const cases: [Record<string, unknown>, number, string | null, string | null][] = [
      [{ input: 'x'.repeat(4097) }, 400, 'input', 'string_above_max_length'],
      [{ voice: 'rachel' }, 400, 'voice', 'invalid_value'],
      [{ response_format: 'ogg' }, 400, 'response_format', 'invalid_value'],
      [{ speed: 4.5 }, 400, 'speed', 'decimal_above_max_value'],
      [{ speed: 0.1 }, 400, 'speed', 'decimal_below_min_value'],
      [{ model: 'tts-2' }, 404, null, 'model_not_found'],
    ];
    let i = 0;
    for (const [body, status, param, code] of cases) {
      const r = await speech(`sk-validation-${i++}-0123456789abcdef`, body);
      const e = await j<OpenAIErr>(r);
      expect([r.status, e.error.param, e.error.code, e.error.type]).toEqual([status, param, code, 'invalid_request_error']);
    }
  });

  it('401 invalid_api_key echoes only a masked fragment of the key', async () => {
    const missing = await fetch(`${sb.urls.openai}/audio/speech`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(401);
    expect((await j<OpenAIErr>(missing)).error.code).toBe('invalid_api_key');
    const bogus = 'not-a-key-ABCDEFGHIJKLMN-wxyz';
    const r = await speech(bogus);
    const e = await j<OpenAIErr>(r);
    expect(r.status).toBe(401);
    expect(r.headers.get('x-request-id')).toMatch(/^req_/);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
    expect(e.error.message).toMatch(/^Incorrect API key provided: not-a-ke\*+wxyz\./);
    expect(e.error.message).not.toContain(bogus);
  });

  it('images: dall-e urls serving a PNG, b64_json, gpt-image-1 usage, and the n/size rules', async () => {
    const r = await images(oaKey(), { n: 2, size: '256x256' });
    expect(r.status).toBe(200);
    const body = await j<{ created: number; data: { url: string }[] }>(r);
    expect(body.created).toBe(Math.floor(now / 1000));
    expect(body.data).toHaveLength(2);
    const file = await fetch(body.data[0]?.url ?? '');
    expect(file.headers.get('content-type')).toBe('image/png');
    expect((await bytes(file)).subarray(1, 4).toString()).toBe('PNG');

    const b64 = await j<{ data: { b64_json: string }[] }>(await images(oaKey(), { response_format: 'b64_json' }));
    expect(Buffer.from(b64.data[0]?.b64_json ?? '', 'base64').subarray(1, 4).toString()).toBe('PNG');

    const gpt = await j<{ data: { b64_json?: string; url?: string }[]; usage: { total_tokens: number } }>(
      await images(oaKey(1), { model: 'gpt-image-1', size: '1536x1024', quality: 'high' }),
    );
    expect(gpt.data[0]?.b64_json).toBeDefined();
    expect(gpt.data[0]?.url).toBeUndefined();
    expect(gpt.usage.total_tokens).toBeGreaterThan(0);

    const n2 = await images(oaKey(1), { model: 'dall-e-3', n: 2 });
    expect([n2.status, (await j<OpenAIErr>(n2)).error.param]).toEqual([400, 'n']);
    const size = await images(oaKey(2), { model: 'dall-e-3', size: '256x256' });
    expect([size.status, (await j<OpenAIErr>(size)).error.code]).toEqual([400, 'invalid_value']);
    const rf = await images(oaKey(2), { model: 'gpt-image-1', response_format: 'url' });
    expect([rf.status, (await j<OpenAIErr>(rf)).error.code]).toEqual([400, 'unknown_parameter']);
  });

  it('429 rate_limit_exceeded advertises the wait per retryHint; every call is counted', async () => {
    const expectations: Record<RetryHint, (h: Headers) => void> = {
      seconds: (h) => {
        expect(h.get('retry-after')).toBe('20');
        expect(h.get('x-ratelimit-reset-requests')).toBe('20s');
      },
      ms: (h) => {
        expect(h.get('retry-after-ms')).toBe('20000');
        expect(h.get('retry-after')).toBeNull();
      },
      'http-date': (h) => expect(Date.parse(h.get('retry-after') ?? '')).toBe(now + 20_000),
      'reset-header': (h) => {
        expect(h.get('x-ratelimit-reset-requests')).toBe('20s');
        expect(h.get('retry-after')).toBeNull();
        expect(h.get('retry-after-ms')).toBeNull();
      },
      none: (h) => {
        expect(h.get('retry-after')).toBeNull();
        expect(h.get('retry-after-ms')).toBeNull();
        expect(h.get('x-ratelimit-reset-requests')).toBeNull();
      },
      absurd: (h) => expect(h.get('retry-after')).toBe('999999'),
    };
    for (const [hint, check] of Object.entries(expectations) as [RetryHint, (h: Headers) => void][]) {
      const key = `sk-hint-${hint}-0123456789abcdef`;
      sb.configureKey('openai', key, { rateLimit: { calls: 1, windowMs: 20_000 }, retryHint: hint });
      expect((await speech(key)).status).toBe(200);
      const r = await speech(key);
      const e = await j<OpenAIErr>(r);
      expect([hint, r.status, e.error.code, e.error.type]).toEqual([hint, 429, 'rate_limit_exceeded', 'requests']);
      expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      check(r.headers);
      expect(sb.calls({ key })).toBe(2);
    }
    // The window slides: 20 s later the key works again.
    advance(20_001);
    expect((await speech('sk-hint-seconds-0123456789abcdef')).status).toBe(200);
  });

  it('quota: 429 insufficient_quota without Retry-After; invalid: 401', async () => {
    sb.configureKey('openai', oaKey(0), { state: 'quota' });
    sb.configureKey('openai', oaKey(1), { state: 'invalid' });
    for (let i = 0; i < 5; i++) {
      const r = await speech(oaKey(0));
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBeNull();
      expect(r.headers.get('x-ratelimit-reset-requests')).toBeNull();
      expect((await j<OpenAIErr>(r)).error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    }
    const inv = await images(oaKey(1));
    expect([inv.status, (await j<OpenAIErr>(inv)).error.code]).toEqual([401, 'invalid_api_key']);
  });

  it('works with the official openai SDK (errors classified by the SDK)', async () => {
    const client = new OpenAI({ apiKey: oaKey(2), baseURL: sb.urls.openai, maxRetries: 0 });
    const audio = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'hi', voice: 'coral', response_format: 'wav' });
    expect((await bytes(audio)).subarray(0, 4).toString()).toBe('RIFF');
    const img = await client.images.generate({ model: 'dall-e-3', prompt: 'a boat' });
    expect(img.data?.[0]?.url).toContain(`/files/image/`);
    sb.configureKey('openai', oaKey(2), { state: 'quota' });
    await expect(client.images.generate({ prompt: 'x' })).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
  });
});

describe('ElevenLabs', () => {
  it('tts: audio/mpeg by default, pcm/wav per output_format, request-id and character-cost', async () => {
    const r = await tts(elKey());
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('audio/mpeg');
    expect(r.headers.get('request-id')).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(r.headers.get('character-cost')).toBe('5');
    expect((await bytes(r))[0]).toBe(0xff);
    const pcm = await tts(elKey(), undefined, undefined, '?output_format=pcm_16000');
    expect(pcm.headers.get('content-type')).toBe('audio/pcm');
    expect((await bytes(pcm)).length).toBe(32000);
    const wav = await tts(elKey(), undefined, undefined, '?output_format=wav_22050');
    const wb = await bytes(wav);
    expect([wav.headers.get('content-type'), wb.subarray(0, 4).toString(), wb.readUInt32LE(24)]).toEqual(['audio/wav', 'RIFF', 22050]);
  });

  it('errors: 422 FastAPI validation, 400 voice_not_found, 400 max_character_limit_exceeded, 401s', async () => {
    const v422 = await tts(elKey(1), undefined, { model_id: 'eleven_multilingual_v2' });
    expect(v422.status).toBe(422);
    expect((await j<ElevenErr>(v422)).detail).toEqual([{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }]);
    const voice = await tts(elKey(1), 'alloy');
    expect([voice.status, (await j<ElevenErr>(voice)).detail]).toMatchObject([400, { status: 'voice_not_found' }]);
    const long = await tts(elKey(1), undefined, { text: 'x'.repeat(3001), model_id: 'eleven_v3' });
    expect([long.status, (await j<ElevenErr>(long)).detail]).toMatchObject([400, { status: 'max_character_limit_exceeded' }]);
    const none = await post(`${sb.urls.elevenlabs}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM`, {}, { text: 'x' });
    expect(none.status).toBe(401);
    sb.configureKey('elevenlabs', elKey(2), { state: 'invalid' });
    const inv = await tts(elKey(2));
    expect([inv.status, (await j<ElevenErr>(inv)).detail]).toMatchObject([401, { status: 'invalid_api_key' }]);
    sb.configureKey('elevenlabs', elKey(2), { state: 'quota' });
    const q = await tts(elKey(2));
    expect([q.status, (await j<ElevenErr>(q)).detail]).toMatchObject([401, { status: 'quota_exceeded' }]);
  });

  it('per-key limit -> 429 too_many_concurrent_requests, no Retry-After unless a hint is configured', async () => {
    for (let i = 0; i < 3; i++) expect((await tts(elKey())).status).toBe(200);
    const r = await tts(elKey());
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeNull();
    expect((await j<ElevenErr>(r)).detail).toMatchObject({ status: 'too_many_concurrent_requests' });
    expect((await tts(elKey(1))).status).toBe(200); // another key is fine
    sb.configureKey('elevenlabs', elKey(1), { rateLimit: { calls: 1, windowMs: 5000 }, retryHint: 'seconds' });
    const r2 = await tts(elKey(1));
    expect([r2.status, r2.headers.get('retry-after')]).toEqual([429, '5']);
    expect(sb.calls({ vendor: 'elevenlabs' })).toBe(6);
  });
});

describe('fal sync', () => {
  it('flux output honours num_images and image_size; the image urls serve JPEGs', async () => {
    const r = await flux(falKey(), { prompt: 'a lighthouse', num_images: 2, image_size: 'square', seed: 42 });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-fal-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const out = await j<{ images: { url: string; width: number; height: number; content_type: string }[]; seed: number; has_nsfw_concepts: boolean[]; prompt: string; timings: object }>(r);
    expect(out.images).toHaveLength(2);
    expect(out.images[0]).toMatchObject({ width: 512, height: 512, content_type: 'image/jpeg' });
    expect(out).toMatchObject({ seed: 42, has_nsfw_concepts: [false, false], prompt: 'a lighthouse' });
    const img = await bytes(await fetch(out.images[0]?.url ?? ''));
    expect([img[0], img[1]]).toEqual([0xff, 0xd8]);
    const custom = await j<{ images: { width: number; height: number }[] }>(await flux(falKey(), { prompt: 'x', image_size: { width: 640, height: 360 } }, 'fal-ai/flux/schnell'));
    expect(custom.images[0]).toMatchObject({ width: 640, height: 360 });
  });

  it('errors: 422 detail[], 401 no user, 403 balance lock, 429 with a detail string', async () => {
    const v = await flux(falKey(), { image_size: 'square' });
    expect(v.status).toBe(422);
    expect((await j<{ detail: { loc: string[] }[] }>(v)).detail[0]?.loc).toEqual(['body', 'prompt']);
    const bad = await flux('nope');
    expect([bad.status, await j<{ detail: string }>(bad)]).toEqual([401, { detail: 'No user found for Key ID and Secret' }]);
    sb.configureKey('fal', falKey(1), { state: 'quota' });
    const q = await flux(falKey(1));
    expect(q.status).toBe(403);
    expect((await j<{ detail: string }>(q)).detail).toMatch(/^User is locked\. Reason: Exhausted balance/);
    await flux(falKey()); // the 422 above used one of the 3 calls of the window, this the second
    await flux(falKey());
    const limited = await flux(falKey());
    expect(limited.status).toBe(429);
    expect(typeof (await j<{ detail: unknown }>(limited)).detail).toBe('string');
  });
});

describe('fal queue', () => {
  it('submit -> status 202 IN_QUEUE/IN_PROGRESS -> 200 COMPLETED -> result; urls drop the model subpath', async () => {
    const auth = { authorization: `Key ${falKey()}` };
    const s = await post(`${sb.urls.falQueue}/fal-ai/flux/dev`, auth, { prompt: 'a lighthouse' });
    expect(s.status).toBe(200);
    const sub = await j<FalSubmit>(s);
    expect(sub).toMatchObject({ status: 'IN_QUEUE', queue_position: 0 });
    expect(sub.status_url).toBe(`${sb.urls.falQueue}/fal-ai/flux/requests/${sub.request_id}/status`);
    expect(sub.response_url).toBe(`${sb.urls.falQueue}/fal-ai/flux/requests/${sub.request_id}`);
    expect(sub.cancel_url).toBe(`${sb.urls.falQueue}/fal-ai/flux/requests/${sub.request_id}/cancel`);

    const st1 = await fetch(sub.status_url, { headers: auth });
    expect([st1.status, (await j<{ status: string }>(st1)).status]).toEqual([202, 'IN_QUEUE']);
    const early = await fetch(sub.response_url, { headers: auth });
    expect([early.status, await j<{ detail: string }>(early)]).toEqual([400, { detail: 'Request is still in progress' }]);
    advance(500);
    const st2 = await fetch(`${sub.status_url}?logs=1`, { headers: auth });
    const b2 = await j<{ status: string; logs: unknown[] }>(st2);
    expect([st2.status, b2.status, b2.logs.length]).toEqual([202, 'IN_PROGRESS', 1]);
    // Another key cannot see it; the full model path is not a status URL.
    expect((await fetch(sub.status_url, { headers: { authorization: `Key ${falKey(1)}` } })).status).toBe(404);
    expect((await fetch(`${sb.urls.falQueue}/fal-ai/flux/dev/requests/${sub.request_id}/status`, { headers: auth })).status).toBe(404);
    advance(600);
    const st3 = await fetch(sub.status_url, { headers: auth });
    expect([st3.status, (await j<{ status: string }>(st3)).status]).toEqual([200, 'COMPLETED']);
    const res = await fetch(sub.response_url, { headers: auth });
    expect(res.status).toBe(200);
    expect((await j<{ images: unknown[] }>(res)).images).toHaveLength(1);
    // Polls are not rate limited (the queue never rejects); sync calls are.
    expect(sb.calls({ vendor: 'fal', pathIncludes: '/requests/' })).toBe(7);
  });

  it('stable-audio result is a real WAV of the advertised size', async () => {
    const auth = { authorization: `Key ${falKey(2)}` };
    const sub = await j<FalSubmit>(await post(`${sb.urls.falQueue}/fal-ai/stable-audio`, auth, { prompt: 'calm piano', seconds_total: 2 }));
    expect(sub.status_url).toContain('/fal-ai/stable-audio/requests/');
    advance(1000);
    const out = await j<{ audio_file: { url: string; content_type: string; file_name: string; file_size: number } }>(await fetch(sub.response_url, { headers: auth }));
    expect(out.audio_file.content_type).toBe('audio/wav');
    const file = await fetch(out.audio_file.url);
    const wav = await bytes(file);
    expect([file.headers.get('content-type'), wav.subarray(0, 4).toString(), wav.length]).toEqual(['audio/wav', 'RIFF', out.audio_file.file_size]);
  });
});

describe('Kling', () => {
  it('JWT verification: 1001 empty, 1002 malformed, 1000 bad signature/unknown key, 1004 expired, 1003 not yet valid, 5 s leeway', async () => {
    const codeOf = async (auth: string | undefined): Promise<[number, number]> => {
      const r = await fetch(`${sb.urls.kling}/v1/videos/text2video?pageNum=1`, { headers: auth === undefined ? {} : { authorization: auth } });
      return [r.status, (await j<KlingBody>(r)).code];
    };
    const { access, secret } = splitKlingEntry(klEntry());
    expect(await codeOf(undefined)).toEqual([401, 1001]);
    expect(await codeOf('Bearer not.a.jwt')).toEqual([401, 1002]);
    expect(await codeOf(`Bearer ${klingJwt(access, 'wrong-secret', now)}`)).toEqual([401, 1000]);
    expect(await codeOf(`Bearer ${klingJwt('UNKNOWNAK', secret, now)}`)).toEqual([401, 1000]);
    expect(await codeOf(`Bearer ${klingJwt(access, secret, now - 1800_000 - 10_000)}`)).toEqual([401, 1004]);
    expect(await codeOf(`Bearer ${klingJwt(access, secret, now - 1800_000 - 3_000)}`)).toEqual([200, 0]); // within leeway
    expect(await codeOf(`Bearer ${klingJwt(access, secret, now + 20_000)}`)).toEqual([401, 1003]);
    expect(await codeOf(`Bearer ${klingJwt(access, secret, now + 8_000)}`)).toEqual([200, 0]); // nbf = now+3 s: within leeway
    sb.addKlingKey('NEWAK:new-secret');
    expect(await codeOf(`Bearer ${klingJwt('NEWAK', 'new-secret', now)}`)).toEqual([200, 0]);
  });

  it('create -> submitted -> processing -> succeed with a video url; visible only to the creating key', async () => {
    const c = await klingCreate(jwt(), { model_name: 'kling-v1-6', prompt: 'a cat surfing', duration: '10', aspect_ratio: '9:16' });
    expect(c.status).toBe(200);
    const created = await j<KlingBody>(c);
    expect(created).toMatchObject({ code: 0, message: 'SUCCEED', data: { task_status: 'submitted', created_at: now } });
    expect(c.headers.get('x-request-id')).toBe(created.request_id);
    const id = created.data.task_id;
    advance(300);
    expect((await j<KlingBody>(await klingGet(jwt(), id))).data.task_status).toBe('processing');
    const other = await klingGet(jwt(klEntry(1)), id);
    expect([other.status, (await j<KlingBody>(other)).code]).toEqual([404, 1203]);
    advance(800);
    const done = await j<KlingBody>(await klingGet(jwt(), id));
    expect(done.data.task_status).toBe('succeed');
    const video = done.data.task_result?.videos[0];
    expect(video?.duration).toBe('10');
    const file = await fetch(video?.url ?? '');
    const mp4 = await bytes(file);
    expect([file.headers.get('content-type'), mp4.subarray(4, 8).toString()]).toEqual(['video/mp4', 'ftyp']);
  });

  it('external_task_id is idempotent per account; a prompt with "fail" ends failed', async () => {
    const a = await j<KlingBody>(await klingCreate(jwt(), { prompt: 'a dog', external_task_id: 'ext-1' }));
    const b = await j<KlingBody>(await klingCreate(jwt(), { prompt: 'a dog', external_task_id: 'ext-1' }));
    expect(b.data.task_id).toBe(a.data.task_id);
    expect(b.data.task_info.external_task_id).toBe('ext-1');
    const byExt = await j<KlingBody>(await klingGet(jwt(), 'ext-1'));
    expect(byExt.data.task_id).toBe(a.data.task_id);
    const f = await j<KlingBody>(await klingCreate(jwt(klEntry(1)), { prompt: 'This should FAIL' }));
    advance(1000);
    const failed = await j<KlingBody>(await klingGet(jwt(klEntry(1)), f.data.task_id));
    expect(failed.code).toBe(0);
    expect(failed.data.task_status).toBe('failed');
    expect(failed.data.task_status_msg).toBeTruthy();
  });

  it('creation is rate limited (1302), polling is not; quota 1102; validation 1201', async () => {
    const t = jwt(klEntry(2));
    const first = await j<KlingBody>(await klingCreate(t));
    await klingCreate(t);
    const limited = await klingCreate(t);
    expect([limited.status, (await j<KlingBody>(limited)).code]).toEqual([429, 1302]);
    for (let i = 0; i < 5; i++) expect((await klingGet(t, first.data.task_id)).status).toBe(200);
    sb.configureKey('kling', klEntry(1), { state: 'quota' });
    const q = await klingCreate(jwt(klEntry(1)));
    expect([q.status, (await j<KlingBody>(q)).code]).toEqual([429, 1102]);
    const v = await klingCreate(jwt(), { prompt: 'x', duration: 5 });
    expect([v.status, (await j<KlingBody>(v)).code]).toEqual([400, 1201]);
    expect(sb.calls({ vendor: 'kling', key: klEntry(2) })).toBe(8);
    expect(sb.calls({ vendor: 'kling', key: splitKlingEntry(klEntry(2)).access })).toBe(8);
  });
});

describe('faults', () => {
  it('status faults are vendor-shaped', async () => {
    sb.injectFaults('openai', [{ kind: 'status', status: 503 }]);
    const o = await speech(oaKey());
    expect([o.status, (await j<OpenAIErr>(o)).error.type]).toEqual([503, 'server_error']);
    sb.injectFaults('fal', [{ kind: 'status', status: 503 }]);
    const f = await flux(falKey());
    expect([f.status, f.headers.get('x-fal-error-type'), (await j<{ error_type: string }>(f)).error_type]).toEqual([503, 'runner_scheduling_failure', 'runner_scheduling_failure']);
    sb.injectFaults('kling', [{ kind: 'status', status: 500 }, { kind: 'status', status: 504 }, { kind: 'concurrency' }]);
    const codes: [number, number][] = [];
    for (let i = 0; i < 3; i++) {
      const r = await klingGet(jwt(), 'x');
      codes.push([r.status, (await j<KlingBody>(r)).code]);
    }
    expect(codes).toEqual([
      [500, 5000],
      [504, 5002],
      [429, 1303],
    ]);
    sb.injectFaults('elevenlabs', [{ kind: 'system_busy' }, { kind: 'concurrency' }, { kind: 'status', status: 500, times: 2 }]);
    const statuses: [number, string][] = [];
    sb.configureKey('elevenlabs', elKey(), { rateLimit: { calls: 100, windowMs: 1000 } });
    for (let i = 0; i < 4; i++) {
      const r = await tts(elKey());
      statuses.push([r.status, ((await j<ElevenErr>(r)).detail as { status: string }).status]);
    }
    expect(statuses).toEqual([
      [429, 'system_busy'],
      [429, 'too_many_concurrent_requests'],
      [500, 'internal_server_error'],
      [500, 'internal_server_error'],
    ]);
    expect((await tts(elKey())).status).toBe(200); // queue drained
  });

  it('slow_headers delays the answer; slow_body sends headers at once and finishes late', async () => {
    sb.injectFaults('openai', [{ kind: 'slow_headers', delayMs: 150 }, { kind: 'slow_body', delayMs: 200 }]);
    let t0 = Date.now();
    const r1 = await speech(oaKey());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect((await bytes(r1)).length).toBeGreaterThan(1000);
    t0 = Date.now();
    const r2 = await images(oaKey());
    const headersAt = Date.now() - t0;
    const body = await r2.text();
    const doneAt = Date.now() - t0;
    expect(doneAt).toBeGreaterThanOrEqual(190);
    expect(doneAt - headersAt).toBeGreaterThanOrEqual(50); // the body kept trickling after the headers
    expect(JSON.parse(body)).toHaveProperty('data');
  });

  it('reset destroys the socket; malformed_json skips audio endpoints; truncated_audio cuts the body', async () => {
    sb.injectFaults('fal', [{ kind: 'reset' }]);
    await expect(flux(falKey())).rejects.toThrow();
    expect(sb.log().at(-1)).toMatchObject({ vendor: 'fal', status: 0 });

    sb.injectFaults('openai', [{ kind: 'malformed_json' }]);
    const audio = await speech(oaKey());
    expect(audio.status).toBe(200);
    await bytes(audio);
    const broken = await images(oaKey());
    expect([broken.status, broken.headers.get('content-type')]).toEqual([200, 'application/json']);
    const text = await broken.text();
    expect(() => JSON.parse(text)).toThrow();

    sb.injectFaults('elevenlabs', [{ kind: 'truncated_audio', times: 2 }]);
    for (let i = 0; i < 2; i++) {
      const r = await tts(elKey());
      expect(r.status).toBe(200);
      expect(Number(r.headers.get('content-length'))).toBeGreaterThan(1000);
      await expect(r.arrayBuffer()).rejects.toThrow();
    }
    expect((await bytes(await tts(elKey()))).length).toBe(6269); // the whole MP3 again
  });
});

describe('counting and reset', () => {
  it('counts by vendor, key and path; reset clears rules, windows, faults, jobs and the log', async () => {
    sb.configureKey('openai', oaKey(), { state: 'quota' });
    await speech(oaKey());
    await images(oaKey(1));
    await tts(elKey());
    const task = await j<KlingBody>(await klingCreate(jwt()));
    sb.injectFaults('fal', [{ kind: 'status', status: 500 }]);
    expect(sb.calls()).toBe(4);
    expect(sb.calls({ vendor: 'openai' })).toBe(2);
    expect(sb.calls({ key: oaKey() })).toBe(1);
    expect(sb.calls({ pathIncludes: '/images/' })).toBe(1);
    expect(sb.calls({ key: klEntry() })).toBe(1);
    expect(sb.log()[0]).toMatchObject({ vendor: 'openai', method: 'POST', path: '/v1/audio/speech', key: oaKey(), status: 429, at: now });

    sb.reset();
    expect(sb.calls()).toBe(0);
    expect((await speech(oaKey())).status).toBe(200);
    expect((await flux(falKey())).status).toBe(200);
    expect((await klingGet(jwt(), task.data.task_id)).status).toBe(404);
  });

  it('unknown routes answer the vendor 404; acceptUnknownKeys:false only admits known keys', async () => {
    const r = await fetch(`${sb.urls.openai}/nope`, { headers: { authorization: `Bearer ${oaKey()}` } });
    expect([r.status, (await j<OpenAIErr>(r)).error.message]).toEqual([404, 'Invalid URL (GET /v1/nope)']);
    const strict = await startSandbox({ acceptUnknownKeys: false, defaultRateLimit: { openai: null } });
    try {
      const call = (key: string): Promise<Response> =>
        post(`${strict.urls.openai}/audio/speech`, { authorization: `Bearer ${key}` }, { model: 'tts-1', input: 'x', voice: 'alloy' });
      expect((await call('sk-plausible-but-unknown-0000')).status).toBe(401);
      strict.configureKey('openai', 'sk-plausible-but-unknown-0000', {});
      expect((await call('sk-plausible-but-unknown-0000')).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await call(strict.defaultKeys.openai[0] ?? '')).status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
