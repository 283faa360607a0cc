/**
 * Provider sandbox, probe routes: the free read-only account calls a health prober uses, answered
 * per key with the same key rules (revoked 401, quota shown in the body, faults, vendor rate limits).
 * Real HTTP on loopback with global fetch; a fake clock for windows.
 */
import { sandboxFixture } from './fixture';

const fx = sandboxFixture();
const { advance, oaKey, elKey, falKey, klEntry, jwt } = fx;
const j = async <T>(r: Response): Promise<T> => (await r.json()) as T;

const models = (key: string): Promise<Response> => fetch(`${fx.sb.urls.openai}/models`, { headers: { authorization: `Bearer ${key}` } });
const subscription = (key: string): Promise<Response> => fetch(`${fx.sb.urls.elevenlabs}/v1/user/subscription`, { headers: { 'xi-api-key': key } });
const billing = (key: string, query = '?expand=credits'): Promise<Response> => fetch(`${fx.sb.urls.falPlatform}/account/billing${query}`, { headers: { authorization: `Key ${key}` } });
const costs = (token: string, query = `?start_time=${fx.now() - 86_400_000}&end_time=${fx.now()}`): Promise<Response> =>
  fetch(`${fx.sb.urls.kling}/account/costs${query}`, { headers: { authorization: `Bearer ${token}` } });
const tts = (key: string, text: string): Promise<Response> =>
  fetch(`${fx.sb.urls.elevenlabs}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM`, { method: 'POST', headers: { 'xi-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ text }) });

interface ModelList {
  object: string;
  data: { id: string; object: string; created: number; owned_by: string }[];
}
interface Subscription {
  tier: string;
  character_count: number;
  character_limit: number;
  next_character_count_reset_unix: number;
  status: string;
}
interface Costs {
  code: number;
  message: string;
  request_id: string;
  data: { code: number; msg: string; resource_pack_subscribe_infos: { resource_pack_name: string; total_quantity: number; remaining_quantity: number; status: string; invalid_time: number }[] };
}

describe('OpenAI GET /v1/models', () => {
  it('lists models in the list shape; free (no rate limit); quota keys still list; revoked 401; faults injectable', async () => {
    for (let i = 0; i < 5; i++) expect((await models(oaKey())).status).toBe(200); // the speech window (3 / 20 s) is untouched
    const list = await j<ModelList>(await models(oaKey()));
    expect(list.object).toBe('list');
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['tts-1', 'gpt-4o-mini-tts', 'dall-e-3', 'gpt-image-1']));
    for (const m of list.data) expect(m).toEqual({ id: m.id, object: 'model', created: expect.any(Number) as number, owned_by: 'system' });
    fx.sb.configureKey('openai', oaKey(1), { state: 'quota' });
    expect((await models(oaKey(1))).status).toBe(200);
    fx.sb.configureKey('openai', oaKey(2), { state: 'invalid' });
    expect((await models(oaKey(2))).status).toBe(401);
    fx.sb.injectFaults('openai', [{ kind: 'status', status: 503, pathIncludes: '/v1/models' }]);
    const speech = await fetch(`${fx.sb.urls.openai}/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${oaKey()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', input: 'hi', voice: 'alloy' }),
    });
    expect(speech.status).toBe(200); // the fault waits for a models call
    const down = await models(oaKey());
    expect([down.status, (await j<{ error: { type: string } }>(down)).error.type]).toEqual([503, 'server_error']);
    fx.sb.configureKey('openai', oaKey(), { restrict: { missingScopes: ['api.model.read'] } });
    const scoped = await models(oaKey());
    expect([scoped.status, (await j<{ error: { message: string } }>(scoped)).error.message]).toEqual([401, expect.stringContaining('Missing scopes: api.model.read.')]);
  });
});

describe('ElevenLabs GET /v1/user/subscription', () => {
  it('character_count grows with the characters the key synthesised; quota shows count = limit; revoked 401', async () => {
    const first = await j<Subscription>(await subscription(elKey()));
    expect(first).toMatchObject({ tier: 'creator', character_count: 0, character_limit: 100_000, status: 'active' });
    expect(first.next_character_count_reset_unix).toBe(Date.UTC(2026, 1, 1) / 1000);
    await (await tts(elKey(), 'hello world')).arrayBuffer();
    await (await tts(elKey(), 'x'.repeat(300))).arrayBuffer();
    await (await tts(elKey(1), 'other key')).arrayBuffer();
    expect((await j<Subscription>(await subscription(elKey()))).character_count).toBe(311);
    expect((await j<Subscription>(await subscription(elKey(1)))).character_count).toBe(9);
    fx.sb.configureKey('elevenlabs', elKey(2), { state: 'quota' });
    const q = await subscription(elKey(2));
    expect([q.status, (await j<Subscription>(q)).character_count]).toEqual([200, 100_000]);
    fx.sb.revokeKey('elevenlabs', elKey(1));
    const r = await subscription(elKey(1));
    expect([r.status, (await j<{ detail: { status: string } }>(r)).detail.status]).toEqual([401, 'invalid_api_key']);
    fx.sb.injectFaults('elevenlabs', [{ kind: 'status', status: 500 }]);
    expect((await subscription(elKey())).status).toBe(500);
  });

  it('a configured character_limit is enforced: 401 quota_exceeded once the key would pass it', async () => {
    fx.sb.configureKey('elevenlabs', elKey(), { account: { characterLimit: 100, tier: 'free' }, rateLimit: { calls: 100, windowMs: 1000 } });
    expect((await tts(elKey(), 'x'.repeat(60))).status).toBe(200);
    const over = await tts(elKey(), 'y'.repeat(50));
    expect(over.status).toBe(401);
    expect(await j<unknown>(over)).toEqual({
      detail: { status: 'quota_exceeded', message: 'This request exceeds your quota of 100. You have 40 credits remaining, while 50 credits are required for this request.' },
    });
    expect((await tts(elKey(), 'z'.repeat(40))).status).toBe(200);
    expect(await j<Subscription>(await subscription(elKey()))).toMatchObject({ tier: 'free', character_count: 100, character_limit: 100 });
  });
});

describe('fal platform GET /v1/account/billing', () => {
  it('credits with expand=credits; its own 401 and 403 bodies; a locked key shows 0; faults injectable', async () => {
    expect(fx.sb.urls.falPlatform).toBe(`http://127.0.0.1:${fx.sb.port}/fal-api/v1`);
    const b = await billing(falKey());
    expect(b.status).toBe(200);
    const account = await j<{ username: string }>(b);
    expect(account).toEqual({ username: expect.stringMatching(/^sandbox-team-[0-9a-z]+$/) as string, credits: { current_balance: 24.5, currency: 'USD' } });
    expect(await j<unknown>(await billing(falKey(), ''))).toEqual({ username: account.username });
    const bad = await billing('nope');
    expect([bad.status, await j<unknown>(bad)]).toEqual([401, { error: { type: 'authorization_error', message: 'Invalid API key or malformed Authorization header' } }]);
    fx.sb.configureKey('fal', falKey(1), { restrict: { missingScopes: ['billing:usage:read'] } });
    const scoped = await billing(falKey(1));
    expect(scoped.status).toBe(403);
    expect((await j<{ error: { type: string; message: string } }>(scoped)).error).toMatchObject({ type: 'authorization_error', message: expect.stringContaining('billing:usage:read') as string });
    const inference = await fetch(`${fx.sb.urls.fal}/fal-ai/flux/schnell`, { method: 'POST', headers: { authorization: `Key ${falKey(1)}` }, body: JSON.stringify({ prompt: 'x' }) });
    expect(inference.status).toBe(200); // the same key still runs models
    fx.sb.configureKey('fal', falKey(2), { state: 'quota', account: { creditBalance: 3 } });
    expect(await j<unknown>(await billing(falKey(2)))).toMatchObject({ credits: { current_balance: 0 } });
    fx.sb.configureKey('fal', falKey(2), { account: { creditBalance: 3 } });
    expect(await j<unknown>(await billing(falKey(2)))).toMatchObject({ credits: { current_balance: 3 } });
    fx.sb.injectFaults('fal', [{ kind: 'status', status: 502, pathIncludes: '/account/' }]);
    expect((await billing(falKey())).status).toBe(502);
    expect(fx.sb.log().at(-1)).toMatchObject({ vendor: 'fal', base: '/fal-api', path: '/v1/account/billing' });
  });
});

describe('Kling GET /account/costs', () => {
  it('resource packs with remaining_quantity; 1 request per second per account (429 / 1302); 1201 without times; quota runOut; revoked 1000', async () => {
    const c = await costs(jwt());
    expect(c.status).toBe(200);
    const body = await j<Costs>(c);
    expect(body).toMatchObject({ code: 0, request_id: c.headers.get('x-request-id') });
    expect(body.data.code).toBe(0);
    expect(body.data.resource_pack_subscribe_infos).toEqual([
      expect.objectContaining({ resource_pack_type: 'decreasing_total', total_quantity: 200, remaining_quantity: 118, status: 'online' }),
    ]);
    const fast = await costs(jwt());
    expect([fast.status, (await j<Costs>(fast)).code]).toEqual([429, 1302]);
    expect((await costs(jwt(klEntry(1)))).status).toBe(200); // per account
    advance(1000);
    expect((await costs(jwt())).status).toBe(200);
    advance(1000);
    const missing = await costs(jwt(), '?end_time=1');
    expect([missing.status, (await j<Costs>(missing)).code]).toEqual([400, 1201]);
    advance(1000);
    expect((await j<Costs>(await costs(jwt(), `?start_time=0&end_time=${fx.now()}&resource_pack_name=other`))).data.resource_pack_subscribe_infos).toEqual([]);
    fx.sb.configureKey('kling', klEntry(2), { state: 'quota' });
    const q = await j<Costs>(await costs(jwt(klEntry(2))));
    expect(q.data.resource_pack_subscribe_infos[0]).toMatchObject({ remaining_quantity: 0, status: 'runOut' });
    advance(1000);
    fx.sb.revokeKey('kling', klEntry(2));
    const r = await costs(jwt(klEntry(2)));
    expect([r.status, (await j<Costs>(r)).code]).toEqual([401, 1000]);
    expect((await costs(jwt(), '')).status).toBe(400);
    // The costs window is its own: task creation (2 / 30 s) is untouched by probes.
    advance(1000);
    for (let i = 0; i < 2; i++) {
      const t = await fetch(`${fx.sb.urls.kling}/v1/videos/text2video`, { method: 'POST', headers: { authorization: `Bearer ${jwt()}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'a cat' }) });
      expect(t.status).toBe(200);
    }
  });
});
