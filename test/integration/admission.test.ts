import { Harness, post, speechBody } from './harness';

/**
 * The admission queue through the local server against the provider sandbox over real HTTP: a
 * burst beyond what the keys can take now waits for them instead of drawing 429s upstream. Counts
 * are read at the sandbox; nothing here asserts on time.
 */
const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());

const statusesAt = (keys: string[]) => h.sandbox.log().filter((c) => keys.includes(c.key)).map((c) => c.status);

test('OpenAI: a burst of 12 on 2 keys of 3 calls per window is served whole, with no 429 from the provider', async () => {
  const keys = h.keys('openai', 2);
  for (const k of keys) h.sandbox.configureKey('openai', k, { rateLimit: { calls: 3, windowMs: 1_500 }, retryHint: 'seconds' });
  const stack = await h.stack({ openai: keys });
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => post(`${stack.url}/v1/audio/speech`, speechBody({ input: `burst ${i}` }))));
  expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
  expect(statusesAt(keys).filter((s) => s === 429)).toEqual([]);
  expect(statusesAt(keys)).toHaveLength(12);
  // Some of them waited for a key's budget to refill, and say so.
  const queued = answers.map((r) => Number(r.headers.get('x-nanobot-queued-ms')));
  expect(queued.every((ms) => Number.isInteger(ms) && ms >= 0)).toBe(true);
  expect(queued.filter((ms) => ms > 0).length).toBeGreaterThanOrEqual(6);
  // Where every usable key's budget is known, the pool's is said: never more than the 2 × 3 the keys allow.
  const left = answers.map((r) => r.headers.get('x-ratelimit-remaining-requests')).filter((v) => v !== null).map(Number);
  expect(left.length).toBeGreaterThan(0);
  expect(left.every((n) => Number.isInteger(n) && n >= 0 && n <= 6)).toBe(true);
});

test('ElevenLabs: keys of 2 concurrent requests, a burst of 10: no too_many_concurrent_requests', async () => {
  const keys = h.keys('elevenlabs', 2);
  for (const k of keys) h.sandbox.configureKey('elevenlabs', k, { concurrency: 2 });
  h.sandbox.injectFaults('elevenlabs', [{ kind: 'slow_headers', delayMs: 150, times: 10 }]);
  const stack = await h.stack({ elevenlabs: keys });
  const body = (i: number) => ({ model: 'eleven_turbo_v2_5', input: `burst ${i}`, voice: 'JBFqnCBsd6RMkjVDRZzb' });
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => post(`${stack.url}/v1/audio/speech`, body(i))));
  expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
  expect(statusesAt(keys).filter((s) => s === 429)).toEqual([]);
});

test('x-nanobot-max-wait-ms: 0 asks for a fast 429 rather than a wait, with Retry-After', async () => {
  const keys = h.keys('openai', 1);
  h.sandbox.configureKey('openai', keys[0], { rateLimit: { calls: 1, windowMs: 30_000 }, retryHint: 'seconds' });
  const stack = await h.stack({ openai: keys });
  expect((await post(`${stack.url}/v1/audio/speech`, speechBody())).status).toBe(200);
  const res = await post(`${stack.url}/v1/audio/speech`, speechBody(), { 'x-nanobot-max-wait-ms': '0' });
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(res.headers.get('x-nanobot-queued-ms')).toBe('0');
  expect(statusesAt(keys)).toEqual([200]);
});
