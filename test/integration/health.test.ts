import { ensureTable, startDynalite } from '../../scripts/local/dynamo';
import { Harness, healthItems, healthSums, post, speechBody } from './harness';

/**
 * Issue 3 "Done when": health counts in DynamoDB (dynalite, real protocol) equal exactly what was
 * sent through the local server; /v1/health lists every provider; a store outage loses nothing.
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
  const status = items.find((i) => i.sk === 'STATUS');
  expect(status).toMatchObject({ requests: sent.requests, successRate: sent.successes / sent.requests });
  expect(['healthy', 'degraded', 'down']).toContain(status?.status);
  for (const f of ['p50Ms', 'p95Ms', 'windowStart', 'updatedAt']) expect(status).toHaveProperty(f);

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
    keys: { total: 2 },
  });
  for (const p of Object.values(health.providers)) {
    expect(p).toHaveProperty('latency_ms.p95');
    expect(['healthy', 'degraded', 'down']).toContain(p.status);
  }
  // Vendors given no keys run on the sandbox's demo keys (three each), traffic or not.
  expect(health.providers['kling-video']).toMatchObject({ requests: 0, keys: { total: 3, available: 3 } });
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
