import { withRotation } from '../../lambda/rotation/loop';
import type { RotationSettings } from '../../lambda/rotation/decide';
import { KeyPool } from '../../lambda/keys/key-pool';
import { openaiTts } from '../../lambda/providers/openai/speech';
import { MemoryLog } from '../../lambda/observability/logger';
import { rotationLog } from '../../lambda/observability/rotation-log';
import { Readable } from 'node:stream';
import { MediaStream, Operation, RawAnswer, Transport, TransportError, UpstreamRequest } from '../../lambda/domain';

/**
 * The rotation loop's decisions, against a scripted transport (no server, no socket) and a fake
 * clock: `sleep` advances the clock, so waits and backoffs are asserted without sleeping.
 */
interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body?: string | object;
  destroy?: boolean;
}

const baseUrl = 'http://provider.test/v1';
/** Requests to this origin find nothing listening: refused, so never sent. */
const DEAD = 'http://refused.test';
let script: ((key: string) => Scripted)[] = [];
let calls: string[] = [];

const answer = async (req: UpstreamRequest): Promise<RawAnswer> => {
  const key = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  calls.push(key);
  if (req.url.startsWith(DEAD)) throw new TransportError(false, false, 'ECONNREFUSED');
  const next = script.shift() ?? ((): Scripted => ({ status: 200 }));
  const r = next(key);
  if (r.destroy) throw new TransportError(true, false, 'ECONNRESET');
  const isJson = typeof r.body === 'object';
  const headers = { 'content-type': isJson ? 'application/json' : r.status === 200 ? 'audio/mpeg' : 'text/plain', ...r.headers };
  const text = isJson ? JSON.stringify(r.body) : (r.body as string | undefined) ?? (r.status === 200 ? 'ID3-audio' : '');
  const body = isJson ? (r.body as unknown) : headers['content-type'] === 'audio/mpeg' ? '' : text;
  return { status: r.status, headers, body, raw: Buffer.from(text) };
};

/** The same script, read whole or opened: a 2xx opens as a stream of its bytes, anything else is read whole. */
const transport: Transport = {
  send: answer,
  open: async (req) => {
    const a = await answer(req);
    if (a.status < 200 || a.status >= 300) return a;
    return { status: a.status, headers: a.headers, body: Readable.from([a.raw], { objectMode: false }) };
  },
};

const speechOp = (url = baseUrl): Operation<MediaStream> => openaiTts.operation({ openai: url }, { model: 'tts-1', input: 'hi', voice: 'alloy', response_format: 'mp3' });

const SETTINGS: RotationSettings = { requestDeadlineMs: 10_000, deadlineMarginMs: 0, maxAttempts: 6, maxWaitMs: 1_000, backoffBaseMs: 200, backoffCapMs: 4_000 };
const rate = (retryAfter?: string): Scripted => ({ status: 429, headers: retryAfter ? { 'retry-after': retryAfter } : {}, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
const quota: Scripted = { status: 429, body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } };
const ok: Scripted = { status: 200 };

function setup(keys: string[], settings: Partial<RotationSettings> = {}, op?: Operation<MediaStream>) {
  let t = 1_000_000;
  const slept: number[] = [];
  const log = new MemoryLog();
  const clock = () => t;
  const pool = new KeyPool('openai', keys, clock);
  const operation = op ?? speechOp();
  const deps = { clock, random: () => 0.5, transport, sleep: async (ms: number) => { slept.push(ms); t += ms; } };
  const s = { ...SETTINGS, ...settings };
  return {
    pool, log, slept,
    advance: (ms: number) => (t += ms),
    run: () => withRotation('openai-tts', operation, pool, t + s.requestDeadlineMs, s, deps, rotationLog(log)),
  };
}

beforeEach(() => {
  script = [];
  calls = [];
});

test('a 429 is retried at once on the next key, and the rotation is logged with key ids', async () => {
  const { run, slept, log } = setup(['sk-a', 'sk-b']);
  script = [() => rate('20'), () => ok];
  const r = await run();
  expect(r).toMatchObject({ ok: true, attempts: 2, keyId: 'openai#2' });
  expect(calls).toEqual(['sk-a', 'sk-b']);
  expect(slept).toEqual([]);
  const rotated = log.lines.filter((l) => l.message.includes('rotated'));
  expect(rotated).toEqual([{ level: 'INFO', message: 'key rotated', fields: { provider: 'openai-tts', reason: 'rate_limited', fromKey: 'openai#1', toKey: 'openai#2', retryAfterMs: 20_000 } }]);
});

test('the limited key gets no call during its cooldown', async () => {
  const { run, advance } = setup(['sk-a', 'sk-b']);
  script = [() => rate('20')];
  for (let i = 0; i < 5; i++) expect((await run()).ok).toBe(true);
  expect(calls).toEqual(['sk-a', 'sk-b', 'sk-b', 'sk-b', 'sk-b', 'sk-b']);
  advance(20_000);
  await run();
  await run();
  expect(calls.slice(-2).sort()).toEqual(['sk-a', 'sk-b']);
});

test('every key limited beyond the wait bound → all_keys_cooling with the earliest wait, no sleeping', async () => {
  const { run, slept } = setup(['sk-a', 'sk-b']);
  script = [() => rate('30'), () => rate('12')];
  const r = await run();
  expect(r).toEqual({ ok: false, attempts: 2, failure: { kind: 'all_keys_cooling', retryAfterMs: 12_000 } });
  expect(slept).toEqual([]);
  // A second request answers at once too, with no upstream call.
  const again = await run();
  expect(again).toMatchObject({ ok: false, attempts: 0, failure: { kind: 'all_keys_cooling' } });
  expect(calls).toHaveLength(2);
});

test('every key cooling but one is back within the wait bound → wait, then retry', async () => {
  const { run, slept } = setup(['sk-a'], { maxWaitMs: 1_000 });
  script = [() => ({ ...rate(), headers: { 'retry-after-ms': '400' } }), () => ok];
  const r = await run();
  expect(r).toMatchObject({ ok: true, attempts: 2 });
  expect(slept).toEqual([400]);
});

test('quota exhausted: the key is disabled for every later request', async () => {
  const { run, pool, log } = setup(['sk-a', 'sk-b']);
  script = [() => quota];
  for (let i = 0; i < 4; i++) expect((await run()).ok).toBe(true);
  expect(calls.filter((k) => k === 'sk-a')).toHaveLength(1);
  expect(pool.counts()).toMatchObject({ disabled: 1, available: 1 });
  expect(log.lines.find((l) => l.message === 'key rotated')?.fields).toMatchObject({ reason: 'quota_exhausted', fromKey: 'openai#1', toKey: 'openai#2' });
});

const missingScope: Scripted = { status: 401, body: { error: { message: 'You have insufficient permissions for this operation. Missing scopes: api.model.audio.request.', type: 'invalid_request_error', param: null, code: null } } };
const noModel: Scripted = { status: 403, body: { error: { message: 'Project `proj_x` does not have access to model `tts-1`', type: 'invalid_request_error', param: null, code: 'model_not_found' } } };

test('a key refused this operation: rotated at once, kept out of this provider for later requests, not disabled', async () => {
  const { run, pool, log, slept } = setup(['sk-a', 'sk-b']);
  script = [() => missingScope];
  for (let i = 0; i < 4; i++) expect(await run()).toMatchObject({ ok: true });
  expect(calls).toEqual(['sk-a', 'sk-b', 'sk-b', 'sk-b', 'sk-b']);
  expect(slept).toEqual([]);
  expect(pool.counts('openai-tts')).toMatchObject({ available: 1, disabled: 1 });
  expect(pool.counts('openai-image')).toMatchObject({ available: 2, disabled: 0 });
  expect(log.lines.find((l) => l.message === 'key disabled')?.fields).toMatchObject({ provider: 'openai-tts', key: 'openai#1', reason: 'key_forbidden' });
  expect(log.lines.find((l) => l.message === 'key rotated')?.fields).toMatchObject({ reason: 'key_forbidden', fromKey: 'openai#1', toKey: 'openai#2' });
});

test('every key refused the same way → the refusal is the answer, after one call per key; the keys stay in', async () => {
  const { run, pool } = setup(['sk-a', 'sk-b', 'sk-c']);
  script = [() => noModel, () => noModel, () => noModel];
  expect(await run()).toEqual({ ok: false, attempts: 3, failure: { kind: 'upstream_rejected', code: 'model_not_found', status: 403 } });
  expect(pool.counts('openai-tts')).toMatchObject({ available: 3, disabled: 0 });
});

test('invalid key on the only key → no_usable_key', async () => {
  const { run } = setup(['sk-a']);
  script = [() => ({ status: 401, body: { error: { message: 'Incorrect API key provided: sk-a', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } })];
  expect(await run()).toEqual({ ok: false, attempts: 1, failure: { kind: 'no_usable_key' } });
  expect(await run()).toEqual({ ok: false, attempts: 0, failure: { kind: 'no_usable_key' } });
});

test('5xx is retried after a full-jitter backoff, on the next key', async () => {
  const { run, slept, log } = setup(['sk-a', 'sk-b']);
  script = [() => ({ status: 503, body: { error: { message: 'overloaded', type: 'server_error', param: null, code: null } } }), () => ({ status: 500 }), () => ok];
  const r = await run();
  expect(r).toMatchObject({ ok: true, attempts: 3 });
  // random() = 0.5: half of 200·2^0, then half of 200·2^1.
  expect(slept).toEqual([100, 200]);
  expect(log.lines.filter((l) => l.message === 'key rotated').map((l) => l.fields.reason)).toEqual(['provider_error', 'provider_error']);
});

test('attempts are bounded', async () => {
  const { run } = setup(['sk-a', 'sk-b'], { maxAttempts: 3 });
  script = Array.from({ length: 10 }, () => () => ({ status: 500 }));
  expect(await run()).toMatchObject({ ok: false, attempts: 3, failure: { kind: 'upstream_failed' } });
  expect(calls).toHaveLength(3);
});

test('no backoff past the deadline: fail at once instead of hanging', async () => {
  const { run, slept } = setup(['sk-a'], { requestDeadlineMs: 1_000, backoffBaseMs: 5_000, backoffCapMs: 5_000 });
  script = [() => ({ status: 502 })];
  const r = await run();
  expect(r).toMatchObject({ ok: false, attempts: 1, failure: { kind: 'upstream_failed' } });
  expect(slept).toEqual([]);
});

test('a provider bad request is answered at once, never retried, its message never passed on', async () => {
  const { run } = setup(['sk-a', 'sk-b']);
  script = [() => ({ status: 400, body: { error: { message: 'Invalid input: sk-a…', type: 'invalid_request_error', param: 'input', code: 'string_above_max_length' } } })];
  expect(await run()).toEqual({ ok: false, attempts: 1, failure: { kind: 'upstream_rejected', code: 'string_above_max_length', status: 400 } });
  expect(calls).toHaveLength(1);
});

test('a malformed success is a provider error: retried', async () => {
  const { run } = setup(['sk-a', 'sk-b']);
  script = [() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: { error: 'not audio' } }), () => ok];
  expect(await run()).toMatchObject({ ok: true, attempts: 2 });
});

test('a connection reset is retried when replay is safe', async () => {
  const { run } = setup(['sk-a', 'sk-b']);
  script = [() => ({ status: 0, destroy: true }), () => ok];
  expect(await run()).toMatchObject({ ok: true, attempts: 2 });
});

test('a reset after sending is not replayed for operations that could charge twice', async () => {
  const base = speechOp();
  const { run } = setup(['sk-a', 'sk-b'], {}, { ...base, replaySafe: false });
  script = [() => ({ status: 0, destroy: true }), () => ok];
  expect(await run()).toEqual({ ok: false, attempts: 1, failure: { kind: 'outcome_unknown' } });
  expect(calls).toHaveLength(1);
});

test('a connection refused was never sent, so even a non-replayable operation moves on', async () => {
  const dead = speechOp(`${DEAD}/v1`);
  const { run } = setup(['sk-a'], { maxAttempts: 2 }, { ...dead, replaySafe: false });
  expect(await run()).toMatchObject({ ok: false, attempts: 2, failure: { kind: 'upstream_failed' } });
});

test('a malformed success is never replayed for operations that could charge twice', async () => {
  const base = speechOp();
  const { run } = setup(['sk-a', 'sk-b'], {}, { ...base, replaySafe: false });
  script = [() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: { task: 'created, but not as we know it' } }), () => ok];
  expect(await run()).toEqual({ ok: false, attempts: 1, failure: { kind: 'outcome_unknown' } });
  expect(calls).toHaveLength(1);
});
