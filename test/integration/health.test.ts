import { ensureTable, startDynalite } from '../../scripts/local/dynamo';
import { LATENCY_ATTRS, TTFB_ATTRS, bucketOf } from '../../lambda/health/histogram';
import { Harness, healthItems, healthSums, post, speechBody } from './harness';

/**
 * Issue 3 "Done when": health counts in DynamoDB (dynalite, real protocol) equal exactly what was
 * sent through the local server; time to first byte is kept apart from total latency and a stream
 * cut mid-answer is counted; /v1/health lists every provider; a store outage loses nothing.
 */
const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());

let seq = 0;
const key = (p: string) => `${p}${++seq}h${Math.random().toString(36).slice(2, 12)}${Math.random().toString(36).slice(2, 12)}`;

/** What the operator's query sums to, from already-fetched items. */
function sums(items: Record<string, unknown>[]) {
  const s = { requests: 0, successes: 0, failures: 0, rateLimited: 0, rotations: 0 };
  for (const it of items.filter((i) => String(i.sk).startsWith('BUCKET#'))) for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += Number(it[k] ?? 0);
  return s;
}

/** Sum of one attribute over items. */
const total = (items: Record<string, unknown>[], attr: string) => items.reduce((n, i) => n + Number(i[attr] ?? 0), 0);

/** Sum of one histogram's buckets over the given BUCKET items (one count per served request). */
function histogramSum(items: Record<string, unknown>[], attrs: readonly string[], from = 0): number {
  return attrs.slice(from).reduce((n, a) => n + total(items, a), 0);
}

function rotatedLines(fromOutputIndex: number, provider: string): number {
  return h.output.slice(fromOutputIndex).join('').split('\n').filter((l) => l.includes('"message":"key rotated"') && l.includes(`"provider":"${provider}"`)).length;
}

test('a scripted burst with rotations and a refused request is counted exactly, with a STATUS item, and /v1/health lists all six providers', async () => {
  // ElevenLabs: its limits show only as 429s (OpenAI's budget headers would let the gateway avoid them).
  const limited = key('el');
  const healthy = key('el');
  h.sandbox.configureKey('elevenlabs', limited, { rateLimit: { calls: 1, windowMs: 60_000 }, retryHint: 'seconds' });
  h.sandbox.configureKey('elevenlabs', healthy, { rateLimit: { calls: 4, windowMs: 60_000 }, retryHint: 'seconds' });
  const stack = await h.stack({ elevenlabs: [limited, healthy] });
  const outMark = h.output.length;
  const callsBefore = h.sandbox.log().length;

  const statuses: number[] = [];
  const el = (input: string, extra: object = {}) => ({ model: 'eleven_flash_v2_5', input, voice: 'JBFqnCBsd6RMkjVDRZzb', ...extra });
  for (let i = 0; i < 8; i++) statuses.push((await post(`${stack.url}/v1/audio/speech`, el(`burst ${i}`))).status);
  // Bad input is not a provider request: not counted.
  expect((await post(`${stack.url}/v1/audio/speech`, el('x', { speed: 99 }))).status).toBe(400);
  await stack.runtime.flusher.flush();

  const sent = {
    requests: statuses.length,
    successes: statuses.filter((s) => s === 200).length,
    failures: statuses.filter((s) => s !== 200).length,
    rateLimited: h.sandbox.log().slice(callsBefore).filter((r) => r.vendor === 'elevenlabs' && r.status === 429).length,
    rotations: rotatedLines(outMark, 'elevenlabs-tts'),
  };
  // The scenario really has rotations, upstream 429s and a refused request.
  expect(sent.rotations).toBeGreaterThanOrEqual(1);
  expect(sent.rateLimited).toBeGreaterThanOrEqual(2);
  expect(statuses).toContain(429);

  const items = await healthItems(h.dynamo.endpoint, 'elevenlabs-tts');
  expect(sums(items)).toEqual(sent);
  const buckets = items.filter((i) => String(i.sk).startsWith('BUCKET#'));
  expect(buckets.length).toBeGreaterThanOrEqual(1);
  for (const b of buckets) {
    expect(String(b.sk)).toMatch(/^BUCKET#\d{4}-\d\d-\d\dT\d\d:\d\d$/);
    expect(Number(b.ttl)).toBeGreaterThan(Date.now() / 1000 + 3000);
    expect(Number(b.ttl)).toBeLessThan(Date.now() / 1000 + 3800);
  }
  // Every served request has a time to first byte: the ttfb_le_* buckets sum to the served ones.
  expect(histogramSum(buckets, TTFB_ATTRS)).toBe(sent.successes);
  expect(histogramSum(buckets, LATENCY_ATTRS)).toBe(sent.successes);
  const status = items.find((i) => i.sk === 'STATUS');
  expect(status).toMatchObject({ requests: sent.requests, successRate: sent.successes / sent.requests });
  expect(['healthy', 'degraded', 'down']).toContain(status?.status);
  for (const f of ['p50Ms', 'p95Ms', 'ttfbP50Ms', 'ttfbP95Ms', 'windowStart', 'updatedAt']) expect(status).toHaveProperty(f);

  const res = await fetch(`${stack.url}/v1/health`);
  expect(res.status).toBe(200);
  const health = (await res.json()) as { window: string; generated_at: string; providers: Record<string, Record<string, unknown>> };
  expect(health.window).toBe('5m');
  expect(Object.keys(health.providers).sort()).toEqual(['elevenlabs-tts', 'fal-flux', 'fal-stable-audio', 'kling-video', 'openai-image', 'openai-tts']);
  expect(health.providers['elevenlabs-tts']).toMatchObject({
    requests: sent.requests,
    successes: sent.successes,
    failures: sent.failures,
    rate_limited: sent.rateLimited,
    rotations: sent.rotations,
    stream_aborted: 0,
    keys: { total: 2 },
  });
  expect(health.providers['elevenlabs-tts'].ttfb_ms).toEqual({ p50: expect.any(Number), p95: expect.any(Number) });
  for (const p of Object.values(health.providers)) {
    expect(p).toHaveProperty('latency_ms.p95');
    expect(p).toHaveProperty('ttfb_ms.p95');
    expect(p).toHaveProperty('stream_aborted');
    expect(['healthy', 'degraded', 'down']).toContain(p.status);
  }
  // Vendors given no keys run on the sandbox's demo keys (three each), traffic or not.
  expect(health.providers['kling-video']).toMatchObject({ requests: 0, keys: { total: 3, available: 3 } });
});

test('time to first byte is recorded apart from total latency; a stream cut after its first byte is a failure and a streamAborted', async () => {
  const k = key('sk-');
  const stack = await h.stack({ openai: [k] });
  const outMark = h.output.length;
  const bucketItems = async () => (await healthItems(h.dynamo.endpoint, 'openai-tts')).filter((i) => String(i.sk).startsWith('BUCKET#'));
  const before = await bucketItems();
  const pcm = (input: string) => speechBody({ input, response_format: 'pcm' });

  // 1. A slow body: headers at once, the first piece after 250 ms, the last after 2.5 s.
  h.sandbox.injectFaults('openai', [{ kind: 'slow_body', delayMs: 2_500, key: k }]);
  const slow = await post(`${stack.url}/v1/audio/speech`, pcm('A slow answer, read whole.'));
  expect(slow.status).toBe(200);
  await slow.arrayBuffer();

  // 2. ~600 characters of pcm (about 1.9 MB) whose upstream connection dies after 100 kB: the client
  //    has its 200 and the first bytes, then the response is aborted.
  h.sandbox.injectFaults('openai', [{ kind: 'midstream_reset', afterBytes: 100_000, key: k }]);
  const cut = await post(`${stack.url}/v1/audio/speech`, pcm('The quick brown fox jumps over the lazy dog. '.repeat(14)));
  expect(cut.status).toBe(200);
  await expect(cut.arrayBuffer()).rejects.toThrow();
  const aborted = h.sandbox.log().filter((r) => r.key === k && r.bytesSent === 100_000);
  expect(aborted).toHaveLength(1);

  // 3. A plain request.
  const plain = await post(`${stack.url}/v1/audio/speech`, pcm('Hello again.'));
  expect(plain.status).toBe(200);
  await plain.arrayBuffer();

  // The aborted stream is recorded when its body fails: flush until it is in the table.
  const delta = async () => {
    await stack.runtime.flusher.flush();
    const after = await bucketItems();
    const d = (f: string) => total(after, f) - total(before, f);
    const over2s = bucketOf(2_001);
    return {
      requests: d('requests'), successes: d('successes'), failures: d('failures'), streamAborted: d('streamAborted'),
      ttfb: histogramSum(after, TTFB_ATTRS) - histogramSum(before, TTFB_ATTRS),
      ttfbOver2s: histogramSum(after, TTFB_ATTRS, over2s) - histogramSum(before, TTFB_ATTRS, over2s),
      latencyOver2s: histogramSum(after, LATENCY_ATTRS, over2s) - histogramSum(before, LATENCY_ATTRS, over2s),
    };
  };
  let d = await delta();
  for (let i = 0; i < 50 && d.requests < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    d = await delta();
  }
  // Three requests, two served; the cut one is a failure and a streamAborted. Each served request
  // has one TTFB count; the slow body is over 2 s of latency but not of time to first byte.
  expect(d).toEqual({ requests: 3, successes: 2, failures: 1, streamAborted: 1, ttfb: 2, ttfbOver2s: 0, latencyOver2s: 1 });
  expect(h.logLines(outMark, 'stream aborted')).toHaveLength(1);

  const health = (await (await fetch(`${stack.url}/v1/health`)).json()) as { providers: Record<string, { stream_aborted: number; failures: number; latency_ms: { p95: number }; ttfb_ms: { p50: number; p95: number } }> };
  const p = health.providers['openai-tts'];
  expect(p.stream_aborted).toBe(total(before, 'streamAborted') + 1);
  expect(p.ttfb_ms.p95).toBeLessThan(2_000);
  expect(p.latency_ms.p95).toBeGreaterThan(2_000);
});

test('DynamoDB stops mid-run: every request is still served; when it returns, recording resumes and nothing is lost', async () => {
  const store = await startDynalite();
  const port = Number(new URL(store.endpoint).port);
  await ensureTable(store.endpoint, 'nanobot-config');
  const keys = [key('sk-'), key('sk-')];
  const stack = await h.stack({ openai: keys }, { DYNAMODB_ENDPOINT: store.endpoint });
  const outMark = h.output.length;
  const send = async (n: number) => {
    const s: number[] = [];
    for (let i = 0; i < n; i++) s.push((await post(`${stack.url}/v1/audio/speech`, speechBody())).status);
    return s;
  };

  expect(await send(2)).toEqual([200, 200]);
  await stack.runtime.flusher.flush();
  expect((await healthSums(store.endpoint, 'openai-tts')).requests).toBe(2);

  await store.close();
  expect(await send(4)).toEqual([200, 200, 200, 200]);
  await stack.runtime.flusher.flush();
  await stack.runtime.flusher.flush();
  expect(stack.runtime.flusher.stats.errors).toBeGreaterThanOrEqual(2);
  // Logged once per interval, not per failure.
  const errorLines = h.output.slice(outMark).join('').split('\n').filter((l) => l.includes('health store write failed'));
  expect(errorLines).toHaveLength(1);

  // The store comes back (a new, empty instance on the same port: the table is recreated).
  const back = await startDynalite(port);
  await ensureTable(back.endpoint, 'nanobot-config');
  expect(await send(3)).toEqual([200, 200, 200]);
  await stack.runtime.flusher.flush();
  // The 4 outage-time requests were kept in memory and written now, with the 3 new ones.
  expect((await healthSums(back.endpoint, 'openai-tts'))).toMatchObject({ requests: 7, successes: 7, failures: 0 });
  expect(stack.runtime.flusher.stats.droppedBuckets).toBe(0);
  expect(h.output.slice(outMark).join('')).toContain('health store reachable again');
  await stack.close();
  await back.close();
});
