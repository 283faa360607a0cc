import { fingerprintOf } from '../../lambda/keys/key-lease';
import { Harness, storedItemsText } from '../support/harness';
import type { Vendor } from '../../scripts/sandbox';

/**
 * Hardening, item 1: no fragment of a key leaves the process. Canary keys in each vendor's real
 * shape are echoed by the sandbox (`echo` fault) in every provider-controlled field — codes,
 * types, statuses, messages, request ids, error-type headers, Kling's task failure message — at
 * every status class, on every route (speech, images, job creation, job polls). Then every
 * response body and header, every line the process wrote (the gateway's logger included) and
 * every DynamoDB item is searched for any 6-character fragment of any canary.
 */
const CANARY: Record<Vendor, string[]> = {
  openai: ['sk-proj-' + 'Q7vLmZ2xTr9KpW4sNc8HbJ3yFg6DaE1uVo5iRt0MkXqP' /* built, so no key-shaped literal is committed */, 'sk-' + 'Zr4TbQ9wLx2NcV7mKp3JhS8dFy6GaU1eWo5iPt0RkMnBvC'],
  elevenlabs: ['sk_3fa9c2e7b1d84f60a5c9e2b7d1f48a3c6e9b2d7f1a4c8e5b'],
  // KEY_ID is a UUID (version 7 here: the v4 request ids masked below can never be it), KEY_SECRET hex.
  fal: ['5b7e2c1a-9d3f-7a4b-8c6d-2e9f1a3b5c7d:e4c9a2f7b1d6e3a8c5f2b9d4e7a1c6f3'],
  kling: ['AKLEAKZ4Qm8TvN2pRx7WcY5hJd3Fs9Gb:KsEc4Rt7Yu1Io9Pa3Sd6Fg2Hj8Kl5Zx0Cv'],
};
/** Not configured at start: brought in by a secret update (`KeyPools.update`) while the gateway runs. */
const UPDATED = 'AKNEWQ7Lm2Xr9Tp4Wc8Hb3Yf6Dg1Ue5Vo:SKnw8Hq3Zt6Xc1Vb4Mf7Lg2Jr9Sy5PaUeQ';
const ALL_KEYS = [...Object.values(CANARY).flat(), UPDATED];
const WINDOW = 6;
const windows = ALL_KEYS.flatMap((k) => Array.from({ length: k.length - WINDOW + 1 }, (_, i) => k.slice(i, i + WINDOW)));

/** What a provider may send back, per placeholder the sandbox fills in (`{token}`: Kling's JWT). */
const TEXTS = ['{key}', '{key_head}', 'Incorrect API key provided: {key_head}****{key_tail}.', 'no access for {secret}', '{token}', 'key={key};tail={key_tail}'];
const STATUSES = [400, 401, 403, 429, 500];

const ROUTES: { vendor: Vendor; path: string; body: unknown }[] = [
  { vendor: 'openai', path: '/v1/audio/speech', body: { model: 'tts-1', input: 'hello', voice: 'alloy' } },
  { vendor: 'openai', path: '/v1/images/generations', body: { model: 'dall-e-2', prompt: 'a fox', size: '256x256' } },
  { vendor: 'elevenlabs', path: '/v1/audio/speech', body: { model: 'eleven_turbo_v2_5', input: 'hallo', voice: 'JBFqnCBsd6RMkjVDRZzb' } },
  { vendor: 'fal', path: '/v1/images/generations', body: { model: 'fal-ai/flux/schnell', prompt: 'a fox' } },
  { vendor: 'fal', path: '/v1/audio/generations', body: { model: 'fal-ai/stable-audio', prompt: 'calm piano', seconds: 5 } },
  { vendor: 'kling', path: '/v1/videos', body: { model: 'kling-v1', prompt: 'a paper boat' } },
];

// Short intervals: a key disabled or cooled by one echo is back for the next.
const ENV = { MAX_ATTEMPTS: '2', KEY_DISABLE_MS: '1', COOLDOWN_DEFAULT_MS: '1', JOB_POLL_MIN_INTERVAL_MS: '0' };
const h = new Harness({ quiet: true, fill: 'sandbox', fastBackoff: true });
const statuses: number[] = [];
/** Provider calls answered by an echo (the sandbox's count, before each reset). */
let echoed = 0;

beforeAll(() => h.start());
afterAll(() => h.stop());

test('the canaries cannot be matched by chance: every window has a letter no timestamp or number has, fingerprints share none', () => {
  for (const w of windows) expect(w).toMatch(/[^0-9:.TZ-]/);
  for (const k of ALL_KEYS) for (const w of windows) expect(fingerprintOf(k)).not.toContain(w);
  expect(new Set(windows).size).toBeGreaterThan(250);
});

describe.each(STATUSES)('echo at status %i', (status) => {
  test.each(ROUTES.map((r) => [r.vendor, r.path, r] as const))('%s %s: every text in every field, an answer without a key', async (vendor, path, route) => {
    const stack = await h.stack({ ...CANARY }, ENV);
    for (const text of TEXTS) {
      h.sandbox.injectFaults(vendor, [{ kind: 'echo', text, status, times: 2 }]);
      const res = await h.send(`${stack.url}${path}`, route.body);
      statuses.push(res.status);
      expect(res.status).toBeGreaterThanOrEqual(400);
      echoed += h.sandbox.calls({ vendor });
      h.sandbox.reset(); // an echo left unused (the key was taken out) must not answer the next route
      await new Promise((r) => setTimeout(r, 5));
    }
  });
});

test('job polls: fal status answers and Kling task failures echoing every text', async () => {
  const stack = await h.stack({ ...CANARY }, ENV);
  for (const text of TEXTS) {
    const video = await h.send(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'a paper boat' });
    const audio = await h.send(`${stack.url}/v1/audio/generations`, { model: 'fal-ai/stable-audio', prompt: 'calm piano', seconds: 5 });
    expect([video.status, audio.status]).toEqual([200, 200]);
    // Kling answers the poll 200 with the task failed and the text as task_status_msg (stored, shown).
    h.sandbox.injectFaults('kling', [{ kind: 'echo', text }]);
    h.sandbox.injectFaults('fal', [{ kind: 'echo', text, status: 500, pathIncludes: '/requests/' }]);
    const polled = await h.send(`${stack.url}/v1/videos/${JSON.parse(video.text).id}`, undefined, { method: 'GET' });
    expect(JSON.parse(polled.text)).toMatchObject({ status: 'failed', error: { code: 'generation_failed' } });
    expect((await h.send(`${stack.url}/v1/audio/generations/${JSON.parse(audio.text).id}`, undefined, { method: 'GET' })).status).toBe(200);
    h.sandbox.reset();
  }
});

test('a key brought in by a secret update is scrubbed as soon as it is in the pool', async () => {
  const stack = await h.stack({ ...CANARY }, ENV);
  // The gateway has already scrubbed lines (so built its view of the keys) when the update comes.
  h.sandbox.injectFaults('kling', [{ kind: 'echo', text: '{key}', times: 2 }]);
  expect((await h.send(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'before' })).status).toBe(502);
  h.sandbox.reset();
  h.sandbox.addKlingKey(UPDATED);
  expect(stack.runtime.pools.update({ kling: [UPDATED] })).toEqual(['kling']);
  // The short head (8 characters) in a failed task's reason: only the fragment scrubber can catch it.
  for (const text of ['{key_head} has no access', ...TEXTS]) {
    const video = await h.send(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'a paper boat' });
    expect(video.status).toBe(200);
    h.sandbox.injectFaults('kling', [{ kind: 'echo', text }]);
    const polled = await h.send(`${stack.url}/v1/videos/${JSON.parse(video.text).id}`, undefined, { method: 'GET' });
    expect(JSON.parse(polled.text)).toMatchObject({ status: 'failed' });
    h.sandbox.reset();
  }
});

test('no 6-character fragment of any key in any response, header, log line or DynamoDB item', async () => {
  // Every status class was answered, and the echoes were really sent.
  expect(new Set(statuses)).toEqual(new Set([400, 429, 502, 503]));
  expect(statuses).toHaveLength(STATUSES.length * ROUTES.length * TEXTS.length);
  expect(echoed).toBeGreaterThanOrEqual(statuses.length);
  process.stdout.write(`[figure] key-leaks: ${statuses.length} requests, ${echoed} echoed provider answers, ${TEXTS.length * 2} echoed job polls\n`);
  const logs = h.output.join('');
  expect(logs).toContain('"message":"provider error, backing off"');
  expect(logs).toContain('"message":"job poll answered an error; serving the stored state"');
  const stored = await storedItemsText(h.dynamo.endpoint);
  expect(stored).toContain('generation_failed');
  // Our own random ids (v4 UUID request ids, job ids, health writer ids) are masked: hex-only canary
  // windows could match them by chance. Masking a v4 UUID can never hide the (version 7) fal canary.
  const ours = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|(?:video|audiogen)_[0-9a-f]{32}|w_[0-9a-f]{12}/g;
  const hay = [logs, h.responses.join('\n'), stored].map((t) => t.replace(ours, '#'));
  const found = windows.filter((w) => hay.some((t) => t.includes(w)));
  expect(found).toEqual([]);
  // Nor Kling's bearer token (echoed as {token}), whatever its bytes.
  for (const t of hay) expect(t).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  // What stood in for them: the generic code, and the marker in the failed jobs' messages.
  expect(logs).toContain('"code":"upstream_error"');
  expect(h.responses.join('\n')).toContain('"code":"upstream_error"');
  expect(stored).toContain('[redacted]');
});

// Last: it sends key fragments itself (with plain fetch, outside the scanned responses).
test('an error that quotes the client\'s input reads the same whether or not the input is a fragment of our keys (no guessing oracle)', async () => {
  const stack = await h.stack({ ...CANARY }, ENV);
  const answer = async (path: string, body?: unknown) => {
    const res = await fetch(`${stack.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as { error: { message: string; code: string } };
    return { status: res.status, code: json.error.code, message: json.error.message };
  };
  const fragment = CANARY.kling[0].slice(2, 14);
  const stranger = 'Xq7Wm2Rt9Lp4';
  const asked = [
    [`/v1/videos/${fragment}`, `/v1/videos/${stranger}`],
    [`/v1/nothing/${fragment}`, `/v1/nothing/${stranger}`],
  ];
  for (const [mine, other] of asked) {
    const a = await answer(mine);
    const b = await answer(other);
    expect(a.message).toContain(fragment);
    expect({ ...a, message: a.message.replace(fragment, '…') }).toEqual({ ...b, message: b.message.replace(stranger, '…') });
  }
  const a = await answer('/v1/images/generations', { model: 'dall-e-2', prompt: 'x', size: fragment });
  const b = await answer('/v1/images/generations', { model: 'dall-e-2', prompt: 'x', size: stranger });
  expect({ ...a, message: a.message.replace(fragment, '…') }).toEqual({ ...b, message: b.message.replace(stranger, '…') });
});
