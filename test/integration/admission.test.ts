import { Harness, healthItems, post, speechBody } from './harness';

const until = async (ok: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
};

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

test('a client that goes away while queued leaves the queue at once: no provider call, its wait in health, not a failure', async () => {
  const keys = h.keys('openai', 1);
  // One call per 8 s: the second request waits (its allowed wait, 20 s, covers the key's return).
  h.sandbox.configureKey('openai', keys[0], { rateLimit: { calls: 1, windowMs: 8_000 }, retryHint: 'seconds' });
  const stack = await h.stack({ openai: keys }, { TABLE_NAME: `admission-gone-${Date.now()}` });
  expect((await post(`${stack.url}/v1/audio/speech`, speechBody())).status).toBe(200);
  const from = h.output.length;
  const client = new AbortController();
  const left = fetch(`${stack.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(speechBody()), signal: client.signal }).catch((e: Error) => e.name);
  await until(() => stack.gateway.waiting('openai-tts') === 1, 5_000);
  expect(stack.gateway.waiting('openai-tts')).toBe(1);
  const health = async () => ((await (await fetch(`${stack.url}/v1/health`)).json()) as { providers: Record<string, { requests: number; failures: number; queue: Record<string, unknown> }> }).providers['openai-tts'];
  expect((await health()).queue).toMatchObject({ waiting_here: 1, waited: 0 });
  client.abort();
  expect(await left).toBe('AbortError');
  await until(() => h.logLines(from, 'key queued').length > 0, 5_000);
  const [line] = h.logLines(from, 'key queued').map((l) => JSON.parse(l) as { outcome: string; waitedMs: number });
  expect(line.outcome).toBe('disconnected');
  // Left when its client did, long before the key's return or its allowed wait.
  expect(line.waitedMs).toBeLessThan(5_000);
  expect(stack.gateway.waiting('openai-tts')).toBe(0);
  // One provider call in all (the first request's), and health: one request, no failure, one wait.
  expect(statusesAt(keys)).toEqual([200]);
  const after = await health();
  expect(after).toMatchObject({ requests: 1, failures: 0 });
  expect(after.queue).toMatchObject({ waited: 1, refused_at_once: 0, waiting_here: 0 });
});

test('health: queue waits in the BUCKET items and /v1/health; refusals at once counted apart', async () => {
  const keys = h.keys('openai', 1);
  h.sandbox.configureKey('openai', keys[0], { rateLimit: { calls: 1, windowMs: 1_000 }, retryHint: 'seconds' });
  const table = `admission-health-${Date.now()}`;
  const stack = await h.stack({ openai: keys }, { TABLE_NAME: table });
  // Three at once on one call per second: the second and third wait (about 1 s and 2 s); a fourth asks for a fast 429.
  const burst = await Promise.all([0, 1, 2].map((i) => post(`${stack.url}/v1/audio/speech`, speechBody({ input: `q ${i}` }))));
  expect(burst.map((r) => r.status)).toEqual([200, 200, 200]);
  const fast = await post(`${stack.url}/v1/audio/speech`, speechBody(), { 'x-nanobot-max-wait-ms': '0' });
  expect(fast.status).toBe(429);
  const waits = burst.map((r) => Number(r.headers.get('x-nanobot-queued-ms'))).filter((ms) => ms > 0);
  expect(waits).toHaveLength(2);
  const body = (await (await fetch(`${stack.url}/v1/health`)).json()) as { providers: Record<string, { requests: number; queue: { waited: number; refused_at_once: number; wait_ms: { p50: number; p95: number }; mean_length: number } }> };
  const q = body.providers['openai-tts'].queue;
  expect(body.providers['openai-tts'].requests).toBe(4);
  expect(q.waited).toBe(2);
  expect(q.refused_at_once).toBe(1);
  // The p95 wait lies in the bucket of the longest wait (bucket precision), the mean length is Little's law over the window so far.
  const longest = Math.max(...waits);
  expect(q.wait_ms.p95).toBeGreaterThan(0);
  expect(q.wait_ms.p95).toBeLessThanOrEqual(bucketCeiling(longest));
  expect(q.mean_length).toBeGreaterThan(0);
  expect(q.mean_length).toBeLessThan(1);
  // The BUCKET item carries the histogram and the counters (ADDed by every writer).
  // (Summed over the BUCKET items: the burst may straddle a minute.)
  const buckets = (await healthItems(h.dynamo.endpoint, 'openai-tts', table)).filter((i) => String(i.sk).startsWith('BUCKET#'));
  const sum = (pick: (k: string) => boolean) => buckets.flatMap((b) => Object.entries(b).filter(([k]) => pick(k))).reduce((a, [, v]) => a + Number(v), 0);
  expect(sum((k) => k.startsWith('queue_le_') || k.startsWith('queue_gt_'))).toBe(2);
  expect(sum((k) => k === 'queueRefused')).toBe(1);
  expect(Math.abs(sum((k) => k === 'queueWaitSumMs') - waits.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(2);
});

function bucketCeiling(ms: number): number {
  return [100, 250, 500, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 30000].find((b) => ms <= b) ?? Infinity;
}
