import type { LocalStack } from '../../scripts/local/stack';
import type { Vendor } from '../../scripts/sandbox';
import { Harness, healthSums, HealthSums, image, minus, Reply, speech } from './harness';

/**
 * Provider faults from the sandbox, through the local server. Invariants asserted on every
 * scenario: each request is answered within its deadline plus a margin (REQUEST_DEADLINE_MS is
 * 2 s here, the bound 3.5 s: a correctness bound, not a benchmark), never with a 5xx other than
 * the gateway's own 502/504 for a failing provider, the server keeps answering, the health
 * counts written to DynamoDB equal what was sent, and no key shows up in any log line or answer.
 */
jest.setTimeout(60_000);

const DEADLINE_MS = 2000;
const BOUND_MS = DEADLINE_MS + 1500;
const ENV = { REQUEST_DEADLINE_MS: String(DEADLINE_MS) };

const h = new Harness();
beforeAll(() => h.start());
afterAll(async () => {
  await h.stop();
  expect(h.leaks()).toEqual([]);
});
beforeEach(() => h.sandbox.reset());

interface Run {
  stack: LocalStack;
  provider: string;
  vendor: Vendor;
  before: HealthSums;
  outMark: number;
  callMark: number;
  replies: Reply[];
}

/** A fresh gateway with `keys` as the vendor's pool; health sums of `provider` read before anything is sent. */
async function begin(provider: string, keys: string[], env: Record<string, string> = {}, vendor: Vendor = 'openai'): Promise<Run> {
  const stack = await h.stack({ [vendor]: keys }, { ...ENV, ...env });
  return { stack, provider, vendor, before: await healthSums(h.dynamo.endpoint, provider), outMark: h.output.length, callMark: h.sandbox.log().length, replies: [] };
}

async function send(run: Run, path: string, body: unknown): Promise<Reply> {
  const r = await h.send(`${run.stack.url}${path}`, body);
  run.replies.push(r);
  return r;
}

/**
 * The common invariants, then the stack is closed: every answer within the bound and from the
 * expected set, the server still answers, and health in DynamoDB equals exactly what was sent.
 */
async function finish(run: Run): Promise<void> {
  try {
    for (const r of run.replies) {
      expect(r.ms).toBeLessThan(BOUND_MS);
      expect([200, 429, 502, 503, 504]).toContain(r.status);
    }
    const alive = await h.send(`${run.stack.url}/v1/audio/speech`, speech({ speed: 99 }));
    expect(alive.status).toBe(400);
    await run.stack.runtime.flusher.flush();
    const calls = upstreamCalls(run);
    // An answer cut mid-stream began 200 but was not served: health counts it a failure (streamAborted).
    const served = run.replies.filter((r) => r.status === 200 && !r.aborted).length;
    const after = await healthSums(h.dynamo.endpoint, run.provider);
    expect(minus(after, run.before)).toEqual({
      requests: run.replies.length,
      successes: served,
      failures: run.replies.length - served,
      rateLimited: calls.filter((c) => c.status === 429).length,
      rotations: h.logLines(run.outMark, 'key rotated').filter((l) => l.includes(`"provider":"${run.provider}"`)).length,
    });
  } finally {
    await run.stack.close();
  }
}

function upstreamCalls(run: Run) {
  return h.sandbox.log().slice(run.callMark).filter((c) => c.vendor === run.vendor);
}

test('5xx storm: every request answered 502 within the deadline, attempts bounded; served again once it passes', async () => {
  const run = await begin('openai-image', h.keys('openai', 3));
  h.sandbox.injectFaults('openai', [{ kind: 'status', status: 500, times: 4 }, { kind: 'status', status: 502, times: 4 }, { kind: 'status', status: 503, times: 200 }]);
  const storm = await Promise.all(Array.from({ length: 4 }, () => send(run, '/v1/images/generations', image())));
  for (const r of storm) {
    expect(r.status).toBe(502);
    expect(r.code).toBe('upstream_error');
    expect(r.attempts).toBeGreaterThanOrEqual(1);
    expect(r.attempts).toBeLessThanOrEqual(6);
  }
  expect(upstreamCalls(run)).toHaveLength(storm.reduce((n, r) => n + r.attempts, 0));
  h.sandbox.reset();
  const after = await send(run, '/v1/images/generations', image());
  expect(after.status).toBe(200);
  await finish(run);
});

test('5xx burst shorter than the attempts: served on a later attempt', async () => {
  const run = await begin('openai-image', h.keys('openai', 3), { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '100' });
  h.sandbox.injectFaults('openai', [{ kind: 'status', status: 503, times: 2 }, { kind: 'system_busy', times: 1 }]);
  const r = await send(run, '/v1/images/generations', image());
  expect(r.status).toBe(200);
  expect(r.attempts).toBe(4);
  await finish(run);
});

test('slow headers: shorter than the deadline are waited for; longer are cut at the deadline (504)', async () => {
  const run = await begin('openai-tts', h.keys('openai', 2));
  h.sandbox.injectFaults('openai', [{ kind: 'slow_headers', delayMs: 300 }]);
  const ok = await send(run, '/v1/audio/speech', speech());
  expect(ok.status).toBe(200);
  expect(ok.ms).toBeGreaterThanOrEqual(290);
  h.sandbox.injectFaults('openai', [{ kind: 'slow_headers', delayMs: 8000, times: 20 }]);
  const slow = await Promise.all([send(run, '/v1/audio/speech', speech()), send(run, '/v1/images/generations', image())]);
  for (const r of slow) {
    expect(r.status).toBe(504);
    expect(r.code).toBe('deadline_exceeded');
    expect(r.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 300);
  }
  // The images request was on another provider: count the speech ones here, the images one apart.
  run.replies.splice(run.replies.indexOf(slow[1]), 1);
  await finish(run);
});

test('a body slower than the deadline is cut at the deadline (504), headers notwithstanding', async () => {
  const run = await begin('openai-image', h.keys('openai', 2));
  h.sandbox.injectFaults('openai', [{ kind: 'slow_body', delayMs: 8000, times: 20 }]);
  const r = await send(run, '/v1/images/generations', image());
  expect(r.status).toBe(504);
  expect(r.code).toBe('deadline_exceeded');
  expect(r.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 300);
  await finish(run);
});

test('connection resets: replayed on another key (replay-safe operations); a reset storm ends in 502 in time', async () => {
  const run = await begin('openai-tts', h.keys('openai', 3), { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '100' });
  h.sandbox.injectFaults('openai', [{ kind: 'reset', times: 2 }]);
  const ok = await send(run, '/v1/audio/speech', speech());
  expect(ok.status).toBe(200);
  expect(ok.attempts).toBe(3);
  expect(new Set(upstreamCalls(run).map((c) => c.key)).size).toBe(3);
  h.sandbox.injectFaults('openai', [{ kind: 'reset', times: 200 }]);
  const storm = await send(run, '/v1/audio/speech', speech());
  expect(storm.status).toBe(502);
  await finish(run);
});

test('malformed provider JSON: retried, then served; never passed through', async () => {
  const run = await begin('openai-image', h.keys('openai', 2), { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '100' });
  h.sandbox.injectFaults('openai', [{ kind: 'malformed_json' }]);
  const ok = await send(run, '/v1/images/generations', image());
  expect(ok.status).toBe(200);
  expect(ok.attempts).toBe(2);
  expect(() => JSON.parse(ok.text) as unknown).not.toThrow();
  h.sandbox.injectFaults('openai', [{ kind: 'malformed_json', times: 200 }]);
  const bad = await send(run, '/v1/images/generations', image());
  expect(bad.status).toBe(502);
  expect(bad.text).not.toContain('<!--');
  expect(bad.code).toBe('upstream_error');
  await finish(run);
});

test('truncated audio: never served as if whole — the stream is cut, never spliced with a retry, and counted', async () => {
  const run = await begin('openai-tts', h.keys('openai', 2), { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '100' });
  const whole = await send(run, '/v1/audio/speech', speech());
  expect(whole.status).toBe(200);
  expect(whole.aborted).toBe(false);
  h.sandbox.injectFaults('openai', [{ kind: 'truncated_audio' }]);
  const r = await send(run, '/v1/audio/speech', speech());
  // Audio is relayed from its first byte: a provider that stops short cuts the client's answer
  // (a clean end would pass truncated audio off as whole; a retry would splice two streams).
  expect(r.status).toBe(200);
  expect(r.aborted).toBe(true);
  expect(r.attempts).toBe(1);
  expect(r.bytes.length).toBeLessThan(whole.bytes.length);
  expect(h.logLines(run.outMark, 'stream aborted').length).toBe(1);
  await finish(run);
});

test('429 without Retry-After: the key cools for the default and is not called again meanwhile', async () => {
  const [limited, other] = h.keys('openai', 2);
  h.sandbox.configureKey('openai', limited, { rateLimit: { calls: 0, windowMs: 60_000 }, retryHint: 'none' });
  const run = await begin('openai-tts', [limited, other], { COOLDOWN_DEFAULT_MS: '3000' });
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) expect((await send(run, '/v1/audio/speech', speech())).status).toBe(200);
  expect(h.sandbox.calls({ key: limited })).toBe(1);
  const view = run.stack.gateway.pools.get('openai').view().find((k) => k.id === 'openai#1');
  expect(view?.state).toBe('cooling');
  expect(view!.until! - t0).toBeGreaterThanOrEqual(2900);
  expect(view!.until! - t0).toBeLessThanOrEqual(3000 + (Date.now() - t0) + 50);
  await finish(run);
});

test('Retry-After as an HTTP date: the key cools until that date, not a second less', async () => {
  const [limited, other] = h.keys('openai', 2);
  h.sandbox.configureKey('openai', limited, { rateLimit: { calls: 0, windowMs: 2500 }, retryHint: 'http-date' });
  const run = await begin('openai-tts', [limited, other]);
  const t0 = Date.now();
  expect((await send(run, '/v1/audio/speech', speech())).status).toBe(200);
  const until = run.stack.gateway.pools.get('openai').view().find((k) => k.id === 'openai#1')?.until ?? 0;
  // The sandbox rounds the date up to the second: 2.5 s from the call, up to 1 s more.
  expect(until - t0).toBeGreaterThanOrEqual(2400);
  expect(until - t0).toBeLessThanOrEqual(2500 + 1000 + (Date.now() - t0));
  for (let i = 0; i < 3; i++) expect((await send(run, '/v1/audio/speech', speech())).status).toBe(200);
  expect(h.sandbox.calls({ key: limited })).toBe(1);
  await finish(run);
});

test('absurd Retry-After (999999 s): capped at COOLDOWN_MAX_MS; with every key so limited, 429 at once with a sane Retry-After', async () => {
  const keys = h.keys('openai', 2);
  for (const k of keys) h.sandbox.configureKey('openai', k, { rateLimit: { calls: 0, windowMs: 60_000 }, retryHint: 'absurd' });
  const run = await begin('openai-image', keys, { COOLDOWN_MAX_MS: '120000' });
  const t0 = Date.now();
  const r = await send(run, '/v1/images/generations', image());
  expect(r.status).toBe(429);
  expect(r.code).toBe('all_keys_rate_limited');
  expect(r.ms).toBeLessThan(1000);
  const retryAfter = Number(r.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(100);
  expect(retryAfter).toBeLessThanOrEqual(120);
  for (const k of run.stack.gateway.pools.get('openai').view()) {
    expect(k.state).toBe('cooling');
    expect(k.until! - t0).toBeLessThanOrEqual(120_000 + (Date.now() - t0));
  }
  // Answered at once again, without calling the provider.
  const again = await send(run, '/v1/images/generations', image());
  expect(again.status).toBe(429);
  expect(upstreamCalls(run)).toHaveLength(2);
  await finish(run);
});

test('mixed faults under concurrency: everything answered in time, counts exact', async () => {
  const keys = h.keys('openai', 4);
  h.sandbox.configureKey('openai', keys[0], { rateLimit: { calls: 2, windowMs: 60_000 }, retryHint: 'seconds' });
  const run = await begin('openai-tts', keys, { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '200' });
  h.sandbox.injectFaults('openai', [
    { kind: 'status', status: 500, times: 3 },
    { kind: 'reset', times: 2 },
    { kind: 'truncated_audio', times: 2 },
    { kind: 'slow_headers', delayMs: 5000, times: 2 },
    { kind: 'concurrency', times: 2 },
  ]);
  const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => send(run, '/v1/audio/speech', speech({ input: `mixed ${i}` }))));
  // The two truncated answers are cut mid-stream (aborted), the rest served or refused in time.
  expect(replies.filter((r) => r.aborted).length).toBeLessThanOrEqual(2);
  expect(replies.filter((r) => r.status === 200 && !r.aborted).length).toBeGreaterThanOrEqual(10);
  await finish(run);
});

test('ElevenLabs: 429 system_busy and concurrency limits, then served; 5xx storm answered 502 in time', async () => {
  const run = await begin('elevenlabs-tts', h.keys('elevenlabs', 2), { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '100', COOLDOWN_DEFAULT_MS: '500' }, 'elevenlabs');
  const body = { model: 'eleven_multilingual_v2', input: 'Hallo', voice: 'JBFqnCBsd6RMkjVDRZzb' };
  h.sandbox.injectFaults('elevenlabs', [{ kind: 'system_busy' }, { kind: 'concurrency' }]);
  const ok = await send(run, '/v1/audio/speech', body);
  expect(ok.status).toBe(200);
  expect(ok.attempts).toBe(3);
  h.sandbox.injectFaults('elevenlabs', [{ kind: 'status', status: 500, times: 200 }]);
  const bad = await send(run, '/v1/audio/speech', body);
  expect(bad.status).toBe(502);
  await finish(run);
});

test('fal: runner errors (503/504 with error_type) then served; a reset storm answered 502 in time', async () => {
  const run = await begin('fal-flux', h.keys('fal', 2), { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '100' }, 'fal');
  const body = { model: 'fal-ai/flux/schnell', prompt: 'a fox', size: '1024x768' };
  h.sandbox.injectFaults('fal', [{ kind: 'status', status: 503 }, { kind: 'status', status: 502 }]);
  const ok = await send(run, '/v1/images/generations', body);
  expect(ok.status).toBe(200);
  expect(ok.attempts).toBe(3);
  h.sandbox.injectFaults('fal', [{ kind: 'reset', times: 200 }]);
  const bad = await send(run, '/v1/images/generations', body);
  expect(bad.status).toBe(502);
  await finish(run);
});

test('no key appears in any log line or answer of this file (and the scan has keys to look for)', () => {
  expect(h.forbidden().length).toBeGreaterThan(10);
  expect(h.output.join('').length).toBeGreaterThan(0);
  expect(h.leaks()).toEqual([]);
});
