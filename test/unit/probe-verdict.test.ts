import type { AccountFigures, KeyCredential, Outcome, RawAnswer, UpstreamRequest } from '../../lambda/domain';
import { MalformedAnswer } from '../../lambda/domain';
import { ProbeAnswer, PoolKey, verdictOf } from '../../lambda/probes/verdict';
import { summarizeProbes } from '../../lambda/health/probe-summary';
import type { KeyHealth } from '../../lambda/health/key-health';
import { statusOf } from '../../lambda/health/status';
import { emptyCounters } from '../../lambda/health/counters';
import { VENDOR_MODULES } from '../../lambda/providers/registry';

const key = (secret: string): KeyCredential => ({ vendor: 'x', id: 'x#1', fingerprint: 'abcd1234', secret: () => secret });
const urls = { openai: 'https://o/v1', elevenlabs: 'https://e', fal: 'https://f', falQueue: 'https://q', falPlatform: 'https://api.fal.ai/v1', kling: 'https://k' };
const probeOf = (vendor: string) => VENDOR_MODULES.find((m) => m.id === vendor)!.probe(urls, () => 1_700_000_000_000);
const answer = (status: number, body: unknown, headers: Record<string, string> = {}): RawAnswer => ({ status, headers, body, raw: Buffer.from(JSON.stringify(body)) });

describe('vendor probes: the free read-only route, the key in its usual header, nothing else', () => {
  it.each([
    ['openai', 'sk-abc', { method: 'GET', url: 'https://o/v1/models', headers: { authorization: 'Bearer sk-abc', accept: 'application/json' } }],
    ['elevenlabs', 'el-abc', { method: 'GET', url: 'https://e/v1/user/subscription', headers: { 'xi-api-key': 'el-abc', accept: 'application/json' } }],
    ['fal', 'id:sec', { method: 'GET', url: 'https://api.fal.ai/v1/account/billing?expand=credits', headers: { authorization: 'Key id:sec', accept: 'application/json' } }],
  ])('%s', async (vendor, secret, expected) => {
    const req = (await probeOf(vendor).request(key(secret), 1_700_000_000_000)) as UpstreamRequest;
    expect(req).toEqual(expected);
    expect(req.body).toBeUndefined();
  });

  it('kling: GET /account/costs over the last 400 days with a fresh JWT; 1.1 s between calls', async () => {
    const p = probeOf('kling');
    const req = await p.request(key('AK:SK'), 1_700_000_000_000);
    expect(req.method).toBe('GET');
    expect(req.url).toBe(`https://k/account/costs?start_time=${1_700_000_000_000 - 400 * 86_400_000}&end_time=1700000000000`);
    expect(req.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(p.spacingMs).toBeGreaterThanOrEqual(1_000);
    expect(probeOf('openai').spacingMs).toBe(0);
  });
});

describe('reading probe answers', () => {
  const read = (vendor: string, body: unknown): AccountFigures => probeOf(vendor).read(body);

  it('openai: a model list shows no quota', () => {
    expect(read('openai', { object: 'list', data: [] })).toEqual({ exhausted: false });
    expect(() => read('openai', { object: 'list' })).toThrow(MalformedAnswer);
  });

  it('elevenlabs: characters used of the limit, reset time; exhausted at the limit unless usage billing is on', () => {
    const sub = { character_count: 850, character_limit: 1000, next_character_count_reset_unix: 1_767_225_600, can_extend_character_limit: true, allowed_to_extend_character_limit: false };
    expect(read('elevenlabs', sub)).toEqual({ exhausted: false, quotaLeft: true, quotaUsed: 850, quotaLimit: 1000, quotaResetAt: 1_767_225_600_000 });
    expect(read('elevenlabs', { ...sub, character_count: 1000 })).toMatchObject({ exhausted: true, quotaLeft: false });
    expect(read('elevenlabs', { ...sub, character_count: 1200, allowed_to_extend_character_limit: true })).toMatchObject({ exhausted: false, quotaLeft: false });
    expect(() => read('elevenlabs', { tier: 'free' })).toThrow(MalformedAnswer);
  });

  it('fal: the credit balance; zero is exhausted; no credits block shows no quota', () => {
    expect(read('fal', { username: 't', credits: { current_balance: 24.5, currency: 'USD' } })).toEqual({ exhausted: false, quotaLeft: true, balance: 24.5, currency: 'USD' });
    expect(read('fal', { username: 't', credits: { current_balance: 0, currency: 'USD' } })).toMatchObject({ exhausted: true, quotaLeft: false, balance: 0 });
    expect(read('fal', { username: 't' })).toEqual({ exhausted: false });
    expect(() => read('fal', 'oops')).toThrow(MalformedAnswer);
  });

  it('kling: online packs summed; exhausted when every pack has run out; no packs (pay as you go) shows no quota', () => {
    const pack = (status: string, total: number, remaining: number, invalid = 1_800_000_000_000) => ({ status, total_quantity: total, remaining_quantity: remaining, invalid_time: invalid });
    const costs = (...packs: unknown[]) => ({ code: 0, data: { code: 0, resource_pack_subscribe_infos: packs } });
    expect(read('kling', costs(pack('online', 200, 118), pack('online', 100, 100, 1_750_000_000_000), pack('expired', 50, 50)))).toEqual({
      exhausted: false, quotaLeft: true, quotaUsed: 82, quotaLimit: 300, quotaResetAt: 1_750_000_000_000,
    });
    expect(read('kling', costs(pack('runOut', 200, 0), pack('expired', 10, 4)))).toMatchObject({ exhausted: true, quotaLeft: false });
    expect(read('kling', costs())).toEqual({ exhausted: false });
    expect(() => read('kling', { code: 0, data: {} })).toThrow(MalformedAnswer);
  });

  it('"not visible": a key that authenticated but may not read the route is never an invalid key', () => {
    expect(probeOf('fal').notVisible(answer(403, { error: { type: 'authorization_error', message: 'no billing:usage:read' } }))).toBe(true);
    expect(probeOf('fal').notVisible(answer(403, { detail: 'User is locked. Reason: Exhausted balance.' }))).toBe(false);
    expect(probeOf('fal').notVisible(answer(401, { error: { type: 'authorization_error' } }))).toBe(false);
    const lockedPlatform = answer(403, { error: { type: 'authorization_error', message: 'User is locked. Reason: Exhausted balance.' } });
    expect(probeOf('fal').notVisible(lockedPlatform)).toBe(false);
    expect(probeOf('fal').classify(lockedPlatform, 0).outcome).toBe('quota_exhausted');
    expect(probeOf('openai').notVisible(answer(401, { error: { message: 'You have insufficient permissions for this operation. Missing scopes: api.model.read.' } }))).toBe(true);
    expect(probeOf('openai').notVisible(answer(401, { error: { message: 'Incorrect API key provided: sk-…abcd.' } }))).toBe(false);
    expect(probeOf('elevenlabs').notVisible(answer(401, { detail: { status: 'missing_permissions' } }))).toBe(true);
    expect(probeOf('elevenlabs').notVisible(answer(401, { detail: { status: 'invalid_api_key' } }))).toBe(false);
  });
});

describe('verdictOf: what a probe does to its key', () => {
  const ans = (outcome: Outcome, figures?: AccountFigures, status = 200): ProbeAnswer => ({ kind: 'answer', status, outcome, notVisible: false, figures });
  const usable: PoolKey = { state: 'usable' };
  const invalid: PoolKey = { state: 'disabled', reason: 'invalid_key' };
  const noQuota: PoolKey = { state: 'disabled', reason: 'quota_exhausted' };
  const cooling: PoolKey = { state: 'cooling', reason: 'rate_limited' };
  const left: AccountFigures = { exhausted: false, quotaLeft: true };

  it.each([
    // answer, pool key, previous state → result, state, action
    ['ok', ans('ok', { exhausted: false }), usable, undefined, 'ok', 'ok', 'none'],
    ['ok lifts an invalid-key disable', ans('ok', { exhausted: false }), invalid, 'disabled', 'ok', 'ok', 'reenable'],
    ['ok without quota figures keeps a quota disable (OpenAI)', ans('ok', { exhausted: false }), noQuota, 'disabled', 'ok', 'disabled', 'none'],
    ['ok with quota left lifts a quota disable', ans('ok', left), noQuota, 'disabled', 'ok', 'ok', 'reenable'],
    ['ok past the limit on usage billing keeps a quota disable', ans('ok', { exhausted: false, quotaLeft: false }), noQuota, 'disabled', 'ok', 'disabled', 'none'],
    ['ok leaves a cooling key cooling', ans('ok', left), cooling, 'ok', 'ok', 'ok', 'none'],
    ['figures exhausted', ans('ok', { exhausted: true, quotaLeft: false }), usable, 'ok', 'quota_exhausted', 'disabled', 'disable'],
    ['classifier: invalid key', ans('invalid_key', undefined, 401), usable, 'ok', 'invalid_key', 'disabled', 'disable'],
    ['classifier: quota', ans('quota_exhausted', undefined, 429), usable, 'ok', 'quota_exhausted', 'disabled', 'disable'],
    ['not visible lifts an invalid-key disable', { kind: 'answer', status: 403, outcome: 'bad_request', notVisible: true } as ProbeAnswer, invalid, 'disabled', 'not_visible', 'ok', 'reenable'],
    ['5xx keeps ok', ans('overloaded', undefined, 503), usable, 'ok', 'provider_error', 'ok', 'none'],
    ['5xx never lifts a disable', ans('overloaded', undefined, 503), invalid, 'disabled', 'provider_error', 'disabled', 'none'],
    ['429 keeps ok', ans('rate_limited', undefined, 429), usable, 'ok', 'rate_limited', 'ok', 'none'],
    ['timeout on a never-passed key', { kind: 'transport_error', timedOut: true } as ProbeAnswer, usable, undefined, 'timeout', 'unknown', 'none'],
    ['connection refused keeps ok', { kind: 'transport_error', timedOut: false } as ProbeAnswer, usable, 'ok', 'unreachable', 'ok', 'none'],
    ['malformed keeps ok', { kind: 'malformed', status: 200 } as ProbeAnswer, usable, 'ok', 'malformed_answer', 'ok', 'none'],
    ['an unexpected refusal (route moved)', ans('bad_request', undefined, 404), usable, 'ok', 'unexpected_answer', 'ok', 'none'],
  ] as const)('%s', (_name, a, poolKey, previous, result, state, action) => {
    const v = verdictOf(a, poolKey, previous);
    expect([v.result, v.state, v.action.kind]).toEqual([result, state, action]);
  });

  it('a disable names its reason; transient failures are not conclusive', () => {
    expect(verdictOf(ans('invalid_key', undefined, 401), usable).action).toEqual({ kind: 'disable', reason: 'invalid_key' });
    expect(verdictOf(ans('overloaded', undefined, 500), usable)).toMatchObject({ passed: false, conclusive: false });
    expect(verdictOf(ans('ok', left), usable)).toMatchObject({ passed: true, conclusive: true });
  });
});

describe('probe summary and status without traffic', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const item = (fingerprint: string, over: Partial<KeyHealth> = {}): KeyHealth => ({
    vendor: 'elevenlabs', fingerprint, keyId: `elevenlabs#${fingerprint}`, state: 'ok', probeResult: 'ok', lastProbeAt: new Date(now - 30_000).toISOString(), ...over,
  });
  const sum = (items: KeyHealth[], fingerprints?: string[]) => summarizeProbes(items, { now, staleAfterMs: 300_000, quotaWarnPercent: 80, fingerprints });
  const keys = { total: 3, available: 3, cooling: 0, disabled: 0 };
  const quiet = (items: KeyHealth[], k = keys) => statusOf(8_000, emptyCounters(), k, sum(items, ['a', 'b', 'c']));

  it.each([
    ['every key passed', [item('a'), item('b'), item('c')], 'healthy', 'probes ok'],
    ['every key failing', [item('a', { state: 'disabled', probeResult: 'invalid_key' }), item('b', { state: 'disabled', probeResult: 'invalid_key' }), item('c', { state: 'disabled', probeResult: 'quota_exhausted' })], 'down', 'all keys failing probes'],
    ['quota on two keys', [item('a', { quotaUsedPercent: 92.4 }), item('b', { quotaUsedPercent: 85 }), item('c', { quotaUsedPercent: 10 })], 'degraded', 'quota 92% used on 2 of 3 keys'],
    ['one key failing', [item('a', { state: 'disabled', probeResult: 'invalid_key' }), item('b'), item('c')], 'degraded', '1 of 3 keys failing probes'],
    ['a 5xx changes no status', [item('a', { probeResult: 'provider_error' }), item('b'), item('c')], 'healthy', 'probes inconclusive on 1 of 3 keys'],
    ['a key not probed yet', [item('a'), item('b')], 'healthy', 'probes ok on 2 of 3 keys'],
  ] as const)('%s', (_name, items, status, reason) => {
    expect(quiet([...items])).toMatchObject({ status, reason });
  });

  it('stale items, and items of keys no longer configured, say nothing', () => {
    expect(sum([item('a', { lastProbeAt: new Date(now - 600_000).toISOString() })])).toBeUndefined();
    expect(sum([item('z')], ['a'])).toBeUndefined();
    expect(statusOf(8_000, emptyCounters(), keys)).toMatchObject({ status: 'healthy', reason: 'little or no traffic' });
  });

  it('with enough traffic, traffic decides; keys and probes only add to it', () => {
    const w = { ...emptyCounters(), requests: 10, successes: 10 };
    w.latency[0] = 10;
    expect(statusOf(8_000, w, keys, sum([item('a'), item('b'), item('c')]))).toMatchObject({ status: 'healthy', reason: 'within objectives' });
    expect(statusOf(8_000, w, keys, sum([item('a', { quotaUsedPercent: 95 }), item('b'), item('c')]))).toMatchObject({ status: 'degraded', reason: 'quota 95% used on 1 of 3 keys' });
  });
});
