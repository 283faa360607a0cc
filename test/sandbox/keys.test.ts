/**
 * Provider sandbox, per-key wire facts: ElevenLabs (and fal) concurrency, keys that are valid but
 * restricted (missing scopes, models/apps), runtime revocation, and echo canaries in error answers.
 * Real HTTP on loopback with global fetch; a fake clock for windows and jobs.
 */
import { splitKlingEntry } from '../../scripts/sandbox';
import { sandboxFixture } from './fixture';

const fx = sandboxFixture({ jobDurationMs: 1000 });
const { advance, oaKey, elKey, falKey, klEntry, jwt } = fx;
const VOICE = '21m00Tcm4TlvDq8ikWAM';

function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
const speech = (key: string, body: Record<string, unknown> = {}): Promise<Response> =>
  post(`${fx.sb.urls.openai}/audio/speech`, { authorization: `Bearer ${key}` }, { model: 'tts-1', input: 'hello', voice: 'alloy', ...body });
const images = (key: string, body: Record<string, unknown> = {}): Promise<Response> =>
  post(`${fx.sb.urls.openai}/images/generations`, { authorization: `Bearer ${key}` }, { prompt: 'a fox', ...body });
const tts = (key: string, body: Record<string, unknown> = { text: 'hello' }): Promise<Response> =>
  post(`${fx.sb.urls.elevenlabs}/v1/text-to-speech/${VOICE}`, { 'xi-api-key': key }, body);
const flux = (key: string, app = 'fal-ai/flux/dev'): Promise<Response> => post(`${fx.sb.urls.fal}/${app}`, { authorization: `Key ${key}` }, { prompt: 'a lighthouse' });
const klingCreate = (token: string, body: Record<string, unknown> = { prompt: 'a cat' }): Promise<Response> =>
  post(`${fx.sb.urls.kling}/v1/videos/text2video`, { authorization: `Bearer ${token}` }, body);
const j = async <T>(r: Response): Promise<T> => (await r.json()) as T;

interface OpenAIErr {
  error: { message: string; type: string; param: string | null; code: string | null };
}
interface ElevenDetail {
  detail: { status: string; message: string; code?: string; type?: string; request_id?: string };
}

describe('ElevenLabs concurrency', () => {
  it('a key with concurrency 2: a third request in flight gets 429 too_many_concurrent_requests with both headers', async () => {
    const key = elKey();
    // Three calls a minute: the two held, and the one after them, fit only if the refused one used no budget.
    fx.sb.configureKey('elevenlabs', key, { concurrency: 2, rateLimit: { calls: 3, windowMs: 60_000 } });
    fx.sb.injectFaults('elevenlabs', [{ kind: 'slow_headers', delayMs: 400, key, times: 2 }]);
    const first = [tts(key), tts(key)];
    await new Promise((res) => setTimeout(res, 100)); // both are in flight, waiting on their headers
    const third = await tts(key);
    expect(third.status).toBe(429);
    expect(third.headers.get('current-concurrent-requests')).toBe('2');
    expect(third.headers.get('maximum-concurrent-requests')).toBe('2');
    expect(third.headers.get('retry-after')).toBeNull();
    const body = await j<ElevenDetail>(third);
    expect(body.detail.status).toBe('too_many_concurrent_requests');
    expect(body.detail.message).toMatch(/maximum of 2 concurrent requests/);
    expect((await tts(elKey(1))).status).toBe(200); // per key
    const done = await Promise.all(first);
    expect(done.map((r) => r.status)).toEqual([200, 200]);
    expect(done.map((r) => r.headers.get('maximum-concurrent-requests'))).toEqual(['2', '2']);
    expect(done.map((r) => r.headers.get('current-concurrent-requests')).sort()).toEqual(['1', '2']);
    await Promise.all(done.map((r) => r.arrayBuffer()));
    const after = await tts(key);
    expect([after.status, after.headers.get('current-concurrent-requests')]).toEqual([200, '1']);
    expect(fx.sb.calls({ vendor: 'elevenlabs', key })).toBe(4); // the refused call is logged
  });

  it('fal sync answers its 429 over a key concurrency; the queue never does', async () => {
    const key = falKey();
    fx.sb.configureKey('fal', key, { concurrency: 1, rateLimit: { calls: 100, windowMs: 1000 } });
    fx.sb.injectFaults('fal', [{ kind: 'slow_headers', delayMs: 300, key }]);
    const held = flux(key);
    await new Promise((res) => setTimeout(res, 80));
    const r = await flux(key);
    expect(r.status).toBe(429);
    expect((await j<{ detail: string }>(r)).detail).toMatch(/limited to 1 concurrent/);
    expect((await post(`${fx.sb.urls.falQueue}/fal-ai/flux/dev`, { authorization: `Key ${key}` }, { prompt: 'x' })).status).toBe(200);
    expect((await held).status).toBe(200);
  });
});

describe('keys that are valid but restricted', () => {
  it('OpenAI: a missing scope is refused per capability, with the body OpenAI sends (401 by default, 403 on request)', async () => {
    fx.sb.configureKey('openai', oaKey(0), { restrict: { missingScopes: ['api.model.audio.request'] } });
    fx.sb.configureKey('openai', oaKey(1), { restrict: { missingScopes: ['api.model.images.request'], scopeStatus: 403 } });
    const r = await speech(oaKey(0));
    const e = await j<OpenAIErr>(r);
    expect(r.status).toBe(401);
    expect(e.error).toEqual({
      message:
        "You have insufficient permissions for this operation. Missing scopes: api.model.audio.request. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
    expect((await images(oaKey(0))).status).toBe(200);
    const i = await images(oaKey(1));
    expect([i.status, (await j<OpenAIErr>(i)).error.message]).toEqual([403, expect.stringContaining('Missing scopes: api.model.images.request.')]);
    expect((await speech(oaKey(1))).status).toBe(200);
  });

  it("OpenAI: a model the key's project lacks is 403 model_not_found naming the project (404 on request), and is not listed", async () => {
    fx.sb.configureKey('openai', oaKey(0), { restrict: { deniedModels: ['gpt-image-1'] } });
    const r = await images(oaKey(0), { model: 'gpt-image-1' });
    const e = await j<OpenAIErr>(r);
    expect(r.status).toBe(403);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', param: null, code: 'model_not_found' });
    expect(e.error.message).toMatch(/^Project `proj_[A-Za-z0-9]{24}` does not have access to model `gpt-image-1`$/);
    expect(e.error.message).not.toContain(oaKey(0));
    expect((await images(oaKey(0), { model: 'dall-e-2' })).status).toBe(200);
    const list = await j<{ data: { id: string }[] }>(await fetch(`${fx.sb.urls.openai}/models`, { headers: { authorization: `Bearer ${oaKey(0)}` } }));
    expect(list.data.map((m) => m.id)).not.toContain('gpt-image-1');
    expect(list.data.map((m) => m.id)).toContain('tts-1');
    fx.sb.configureKey('openai', oaKey(1), { restrict: { deniedModels: ['tts-1-hd'], deniedModelStatus: 404 } });
    const nf = await speech(oaKey(1), { model: 'tts-1-hd' });
    expect([nf.status, (await j<OpenAIErr>(nf)).error]).toEqual([404, { message: 'The model `tts-1-hd` does not exist or you do not have access to it.', type: 'invalid_request_error', param: null, code: 'model_not_found' }]);
  });

  it('ElevenLabs: a key without text_to_speech gets missing_permissions (401 as ElevenLabs sends it), the subscription probe still works', async () => {
    fx.sb.configureKey('elevenlabs', elKey(0), { restrict: { missingScopes: ['text_to_speech'] } });
    const r = await tts(elKey(0));
    expect(r.status).toBe(401);
    expect(await j<ElevenDetail>(r)).toEqual({ detail: { status: 'missing_permissions', message: 'The API key you used is missing the permission text_to_speech to execute this operation.' } });
    expect((await fetch(`${fx.sb.urls.elevenlabs}/v1/user/subscription`, { headers: { 'xi-api-key': elKey(0) } })).status).toBe(200);
    fx.sb.configureKey('elevenlabs', elKey(1), { restrict: { missingScopes: ['user_read'], scopeStatus: 403 } });
    const sub = await fetch(`${fx.sb.urls.elevenlabs}/v1/user/subscription`, { headers: { 'xi-api-key': elKey(1) } });
    expect([sub.status, (await j<ElevenDetail>(sub)).detail.status]).toEqual([403, 'missing_permissions']);
    expect((await tts(elKey(1))).status).toBe(200);
  });

  it('fal: an app the key may not use is a 403 that is not an account lock (sync and queue); other apps work', async () => {
    fx.sb.configureKey('fal', falKey(0), { restrict: { deniedModels: ['fal-ai/flux/dev'] } });
    for (const r of [await flux(falKey(0)), await post(`${fx.sb.urls.falQueue}/fal-ai/flux/dev`, { authorization: `Key ${falKey(0)}` }, { prompt: 'x' })]) {
      expect(r.status).toBe(403);
      const d = (await j<{ detail: string }>(r)).detail;
      expect(d).toContain('fal-ai/flux/dev');
      expect(d).not.toMatch(/locked|balance/i);
    }
    expect((await flux(falKey(0), 'fal-ai/flux/schnell')).status).toBe(200);
  });

  it('Kling: a model the account may not use is 403 / 1103', async () => {
    fx.sb.configureKey('kling', klEntry(0), { restrict: { deniedModels: ['kling-v2-master'] } });
    const r = await klingCreate(jwt(), { model_name: 'kling-v2-master', prompt: 'x' });
    expect([r.status, (await j<{ code: number }>(r)).code]).toEqual([403, 1103]);
    expect((await klingCreate(jwt(), { model_name: 'kling-v1', prompt: 'x' })).status).toBe(200);
  });
});

describe('revocation at run time', () => {
  it('revokeKey answers the invalid-key 401 on every route until restoreKey; the rule is kept', async () => {
    fx.sb.configureKey('openai', oaKey(), { rateLimit: { calls: 2, windowMs: 60_000 } });
    expect((await speech(oaKey())).status).toBe(200);
    fx.sb.revokeKey('openai', oaKey());
    const r = await speech(oaKey());
    expect([r.status, (await j<OpenAIErr>(r)).error.code]).toEqual([401, 'invalid_api_key']);
    expect((await fetch(`${fx.sb.urls.openai}/models`, { headers: { authorization: `Bearer ${oaKey()}` } })).status).toBe(401);
    fx.sb.restoreKey('openai', oaKey());
    const back = await speech(oaKey());
    expect([back.status, back.headers.get('x-ratelimit-limit-requests')]).toEqual([200, '2']);
    // Kling by ACCESS:SECRET, ElevenLabs, fal alike.
    fx.sb.revokeKey('kling', klEntry());
    const k = await fetch(`${fx.sb.urls.kling}/v1/videos/text2video?pageNum=1`, { headers: { authorization: `Bearer ${jwt()}` } });
    expect([k.status, (await j<{ code: number }>(k)).code]).toEqual([401, 1000]);
    fx.sb.revokeKey('elevenlabs', elKey());
    expect([(await tts(elKey())).status]).toEqual([401]);
    fx.sb.revokeKey('fal', falKey());
    expect((await flux(falKey())).status).toBe(401);
    fx.sb.reset();
    expect((await flux(falKey())).status).toBe(200);
  });
});

describe('echo canaries', () => {
  const canary = (key: string): string => `canary<${key}>`;

  it('OpenAI puts the text in error.message/type/param/code and x-request-id', async () => {
    fx.sb.injectFaults('openai', [{ kind: 'echo', text: 'canary<{key}>', status: 400 }]);
    const r = await speech(oaKey());
    const t = canary(oaKey());
    expect(r.status).toBe(400);
    expect(r.headers.get('x-request-id')).toBe(t);
    expect(await j<OpenAIErr>(r)).toEqual({ error: { message: t, type: t, param: t, code: t } });
  });

  it('ElevenLabs: detail.status/code/message (and type, request_id) and request-id; fragments by placeholder', async () => {
    fx.sb.injectFaults('elevenlabs', [{ kind: 'echo', text: '{key_head}|{key_tail}' }]);
    const r = await tts(elKey());
    const t = `${elKey().slice(0, 8)}|${elKey().slice(-4)}`;
    expect(r.status).toBe(500);
    expect(r.headers.get('request-id')).toBe(t);
    expect((await j<ElevenDetail>(r)).detail).toEqual({ status: t, code: t, type: t, message: t, request_id: t });
  });

  it('fal: detail, error_type and x-fal-error-type (sync, queue and platform API); {secret} is the part after ":"', async () => {
    const key = falKey();
    fx.sb.injectFaults('fal', [{ kind: 'echo', text: '{key}' }, { kind: 'echo', text: '{secret}', status: 503 }, { kind: 'echo', status: 429 }]);
    const r = await flux(key);
    expect([r.status, r.headers.get('x-fal-error-type')]).toEqual([500, key]);
    expect(await j<unknown>(r)).toEqual({ detail: key, error_type: key });
    const q = await post(`${fx.sb.urls.falQueue}/fal-ai/flux/dev`, { authorization: `Key ${key}` }, { prompt: 'x' });
    expect([q.status, await j<unknown>(q)]).toEqual([503, { detail: key.split(':')[1], error_type: key.split(':')[1] }]);
    const p = await fetch(`${fx.sb.urls.falPlatform}/account/billing?expand=credits`, { headers: { authorization: `Key ${key}` } });
    expect([p.status, p.headers.get('x-fal-error-type'), await j<unknown>(p)]).toEqual([429, key, { error: { type: key, message: key }, detail: key, error_type: key }]);
  });

  it('Kling: code/message/request_id on an error, task_status_msg of a failed task on a poll; {key} is ACCESS:SECRET', async () => {
    const { access, secret } = splitKlingEntry(klEntry());
    const task = await j<{ data: { task_id: string } }>(await klingCreate(jwt()));
    fx.sb.injectFaults('kling', [{ kind: 'echo', text: 'x{key}x', status: 400 }, { kind: 'echo', text: '{secret}/{token}' }]);
    const e = await klingCreate(jwt());
    expect([e.status, e.headers.get('x-request-id'), await j<unknown>(e)]).toEqual([400, `x${access}:${secret}x`, { code: `x${access}:${secret}x`, message: `x${access}:${secret}x`, request_id: `x${access}:${secret}x` }]);
    const token = jwt();
    const poll = await fetch(`${fx.sb.urls.kling}/v1/videos/text2video/${task.data.task_id}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await j<{ code: number; data: { task_status: string; task_status_msg: string } }>(poll);
    expect([poll.status, body.code, body.data.task_status, body.data.task_status_msg]).toEqual([200, 0, 'failed', `${secret}/${token}`]);
    advance(5000); // the task stays failed with that message
    const again = await j<{ data: { task_status: string; task_status_msg: string } }>(await fetch(`${fx.sb.urls.kling}/v1/videos/text2video/${task.data.task_id}`, { headers: { authorization: `Bearer ${jwt()}` } }));
    expect(again.data).toMatchObject({ task_status: 'failed', task_status_msg: `${secret}/${token}` });
  });
});
