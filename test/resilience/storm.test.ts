import { Harness, healthSums, image, minus, Reply } from './harness';

/**
 * Rate-limit storms at small scale: requests waiting for a cooling key, answered within the
 * deadline, counted exactly; and the storm target (at most one wasted upstream 429 per key per
 * rate-limit window), which the gateway first missed and now meets (see `npm run bench -- storm`).
 */
jest.setTimeout(60_000);

const h = new Harness();
beforeAll(() => h.start());
afterAll(async () => {
  await h.stop();
  expect(h.leaks()).toEqual([]);
});
beforeEach(() => h.sandbox.reset());

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One key admitting one call per 1.5 s (`retry-after-ms` hints), four requests 50 ms apart; waiting allowed. */
async function waitersOnOneKey(): Promise<{ replies: Reply[]; wasted: number[]; t0: number; provider: string; check: () => Promise<void> }> {
  const [key] = h.keys('openai', 1);
  h.sandbox.configureKey('openai', key, { rateLimit: { calls: 1, windowMs: 1500 }, retryHint: 'ms' });
  const stack = await h.stack({ openai: [key] }, { MAX_KEY_WAIT_MS: '2000', REQUEST_DEADLINE_MS: '6000' });
  const before = await healthSums(h.dynamo.endpoint, 'openai-image');
  const outMark = h.output.length;
  const t0 = Date.now();
  const pending: Promise<Reply>[] = [];
  for (let i = 0; i < 4; i++) {
    pending.push(h.send(`${stack.url}/v1/images/generations`, image({ prompt: `waiter ${i}` })));
    await sleep(50);
  }
  const replies = await Promise.all(pending);
  const wasted = h.sandbox.log().filter((c) => c.key === key && c.status === 429).map((c) => c.at - t0);
  return {
    replies,
    wasted,
    t0,
    provider: 'openai-image',
    check: async () => {
      try {
        await stack.runtime.flusher.flush();
        const served = replies.filter((r) => r.status === 200).length;
        expect(minus(await healthSums(h.dynamo.endpoint, 'openai-image'), before)).toEqual({
          requests: 4,
          successes: served,
          failures: 4 - served,
          rateLimited: wasted.length,
          rotations: h.logLines(outMark, 'key rotated').length,
        });
      } finally {
        await stack.close();
      }
    },
  };
}

test('requests waiting for a cooling key are served as it comes back, within the deadline, and counted exactly', async () => {
  const run = await waitersOnOneKey();
  for (const r of run.replies) {
    expect(r.ms).toBeLessThan(6000 + 1500);
    expect([200, 429, 502]).toContain(r.status);
  }
  // The key admits one call per 1.5 s: the first at once, at least one more once it is back.
  expect(run.replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
  await run.check();
});

/**
 * Regression (a target miss found by this suite, fixed by one probe per returning key). When every key is cooling,
 * each waiting request sleeps until the earliest key is back (lambda/core/rotation.ts, `pick.kind
 * === 'wait'`), so all waiters wake at the same instant and all pick the one key that came back:
 * the first is admitted, every other one is a wasted upstream 429 (and a fresh cooldown) in the
 * same window. Wanted: one request probes a key coming back (or one waiter per key is woken) —
 * at most one wasted 429 per key per rate-limit window.
 */
test('at most one wasted upstream 429 per key per rate-limit window when requests wait for a key', async () => {
  const run = await waitersOnOneKey();
  try {
    const perWindow = new Map<number, number>();
    for (const at of run.wasted) perWindow.set(Math.floor(at / 1500), (perWindow.get(Math.floor(at / 1500)) ?? 0) + 1);
    expect(Math.max(0, ...perWindow.values())).toBeLessThanOrEqual(1);
  } finally {
    await run.check();
  }
});

/**
 * Regression (found by this suite, fixed): when a request's attempts (MAX_ATTEMPTS) are all
 * spent on rate-limit 429s, lambda/core/rotation.ts returns the last failure, `upstream_failed`,
 * which reads as 502 `upstream_error` ("the provider kept failing") — no Retry-After — although
 * the provider said nothing but "slow down". Seen in the storm benchmark. Wanted: 429 with
 * Retry-After (the earliest key's return), as when every key is cooling.
 */
test('attempts spent only on rate limits answer 429 with Retry-After, not 502', async () => {
  const keys = h.keys('openai', 3);
  for (const k of keys) h.sandbox.configureKey('openai', k, { rateLimit: { calls: 0, windowMs: 30_000 }, retryHint: 'seconds' });
  const stack = await h.stack({ openai: keys }, { MAX_ATTEMPTS: '2' });
  try {
    const r = await h.send(`${stack.url}/v1/images/generations`, image());
    expect(h.sandbox.log().filter((c) => keys.includes(c.key)).map((c) => c.status)).toEqual([429, 429]);
    expect([r.status, typeof r.headers['retry-after']]).toEqual([429, 'string']);
  } finally {
    await stack.close();
  }
});

test('no key appears in any log line or answer of this file (and the scan has keys to look for)', () => {
  expect(h.forbidden().length).toBeGreaterThan(3);
  expect(h.leaks()).toEqual([]);
});
