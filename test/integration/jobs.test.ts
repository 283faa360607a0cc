import { Harness, post, storedItemsText } from './harness';
import { ensureTable, startDynalite } from '../../scripts/local/dynamo';
import type { LocalStack } from '../../scripts/local/stack';

/**
 * Issue 5 "Done when", through the local server against the sandbox's Kling (JWT verified, tasks
 * visible only to the creating access key) and fal queue.
 */
const h = new Harness();
beforeAll(() => h.start({ jobDurationMs: 400 }));
afterAll(() => h.stop());

let n = 0;
const rnd = () => Math.random().toString(36).slice(2, 12);
const klingKey = () => `AKjob${++n}${rnd()}:SKjob${n}${rnd()}${rnd()}`;
const falKey = () => `falid${++n}${rnd()}:falsecret${rnd()}${rnd()}`;

interface Job { id: string; object: string; status: string; progress: number; url?: string; error: { code: string; message: string } | null; created_at: number; completed_at: number | null; seconds: string; model: string; prompt: string }

async function until(stack: LocalStack, path: string, done: (j: Job) => boolean): Promise<Job> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${stack.url}${path}`);
    expect(res.status).toBe(200);
    const j = (await res.json()) as Job;
    if (done(j)) return j;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never finished`);
}

test('three videos on two Kling keys, one rate-limited after one task: all created, each polled to the end with its creating key', async () => {
  const [limited, free] = [klingKey(), klingKey()];
  h.sandbox.configureKey('kling', limited, { rateLimit: { calls: 1, windowMs: 60_000 } });
  h.sandbox.configureKey('kling', free, { rateLimit: { calls: 100, windowMs: 60_000 } });
  const stack = await h.stack({ kling: [limited, free] }, { JOB_POLL_MIN_INTERVAL_MS: '0' });
  const bodies = [
    { model: 'kling-v1', prompt: 'a paper boat on a river', seconds: 5, size: '1280x720' },
    { model: 'kling-v1-6', prompt: 'a lighthouse at dusk', seconds: '10', aspect_ratio: '9:16' },
    { model: 'kling-v2-master', prompt: 'this one will fail the review' },
  ];
  const created: Job[] = [];
  for (const b of bodies) {
    const res = await post(`${stack.url}/v1/videos`, b);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nanobot-provider')).toBe('kling-video');
    const j = (await res.json()) as Job;
    expect(j).toMatchObject({ object: 'video', model: b.model, prompt: b.prompt, error: null, completed_at: null });
    expect(['queued', 'in_progress']).toContain(j.status);
    expect(j.id).toMatch(/^video_[0-9a-f]{32}$/);
    created.push(j);
  }
  expect(created.map((c) => c.seconds)).toEqual(['5', '10', '5']);
  expect(new Set(created.map((c) => c.id)).size).toBe(3);
  // The limited key made one task, then answered 429 and the loop moved to the other key.
  const creates = h.sandbox.log().filter((r) => r.vendor === 'kling' && r.method === 'POST');
  const access = (k: string) => k.split(':')[0];
  expect(creates.filter((r) => r.key === access(limited)).map((r) => r.status)).toEqual([200, 429]);
  expect(creates.filter((r) => r.key === access(free) && r.status === 200)).toHaveLength(2);

  const done = await Promise.all(created.map((c) => until(stack, `/v1/videos/${c.id}`, (j) => j.status === 'completed' || j.status === 'failed')));
  expect(done.map((d) => d.status)).toEqual(['completed', 'completed', 'failed']);
  expect(done[0]).toMatchObject({ progress: 100, url: expect.stringMatching(/^http/) });
  expect(done[0].completed_at).toBeGreaterThanOrEqual(done[0].created_at);
  expect(done[2].error).toMatchObject({ code: 'generation_failed', message: expect.stringContaining('failed') });
  expect(done[2].url).toBeUndefined();

  // Every poll went to the creating key: the sandbox 404s (code 1203) any other key, and none happened.
  const polls = h.sandbox.log().filter((r) => r.vendor === 'kling' && r.method === 'GET');
  expect(polls.length).toBeGreaterThanOrEqual(3);
  expect(polls.every((p) => p.status === 200)).toBe(true);
  expect(new Set(polls.map((p) => p.key))).toEqual(new Set([access(limited), access(free)]));

  // /content: 302 to the file for a completed job; the file is a video.
  const content = await fetch(`${stack.url}/v1/videos/${done[0].id}/content`, { redirect: 'manual' });
  expect(content.status).toBe(302);
  expect(content.headers.get('location')).toBe(done[0].url);
  const file = await fetch(content.headers.get('location')!);
  expect(file.headers.get('content-type')).toBe('video/mp4');
  // A failed job has no content.
  const failedContent = await fetch(`${stack.url}/v1/videos/${done[2].id}/content`, { redirect: 'manual' });
  expect(failedContent.status).toBe(409);

  // Terminal states are served from the record: no further upstream poll.
  const before = h.sandbox.calls({ vendor: 'kling' });
  await fetch(`${stack.url}/v1/videos/${done[0].id}`);
  await fetch(`${stack.url}/v1/videos/${done[2].id}`);
  expect(h.sandbox.calls({ vendor: 'kling' })).toBe(before);

  // Health: three creations served, one terminal failure and two completions, counted once.
  await stack.runtime.flusher.flush();
  const health = (await (await fetch(`${stack.url}/v1/health`)).json()) as { providers: Record<string, { requests: number; successes: number; jobs?: { completed: number; failed: number } }> };
  expect(health.providers['kling-video']).toMatchObject({ requests: 3, successes: 3, jobs: { completed: 2, failed: 1 } });
});

test('polls are rate-bounded per job and never rotated to another key', async () => {
  const [a, b] = [klingKey(), klingKey()];
  const stack = await h.stack({ kling: [a, b] }, { JOB_POLL_MIN_INTERVAL_MS: '60000' });
  const j = (await (await post(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'slow clouds' })).json()) as Job;
  const before = h.sandbox.calls({ vendor: 'kling', pathIncludes: '/text2video/' });
  for (let i = 0; i < 5; i++) expect((await fetch(`${stack.url}/v1/videos/${j.id}`)).status).toBe(200);
  // Created just now: within the minimum interval, so no poll at all.
  expect(h.sandbox.calls({ vendor: 'kling', pathIncludes: '/text2video/' })).toBe(before);
  // Non-terminal content is a clear 4xx.
  const res = await fetch(`${stack.url}/v1/videos/${j.id}/content`, { redirect: 'manual' });
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('video_not_ready');
});

test('a Stable Audio job completes through the fal queue', async () => {
  const stack = await h.stack({ fal: [falKey(), falKey()] }, { JOB_POLL_MIN_INTERVAL_MS: '0' });
  const res = await post(`${stack.url}/v1/audio/generations`, { model: 'fal-ai/stable-audio', prompt: 'calm piano', seconds: 8 });
  expect(res.status).toBe(200);
  const j = (await res.json()) as Job;
  expect(j).toMatchObject({ object: 'audio.generation', status: 'queued', seconds: '8' });
  expect(j.id).toMatch(/^audiogen_[0-9a-f]{32}$/);
  const done = await until(stack, `/v1/audio/generations/${j.id}`, (x) => x.status === 'completed' || x.status === 'failed');
  expect(done).toMatchObject({ status: 'completed', progress: 100, url: expect.stringMatching(/^http/) });
  const wav = await fetch(done.url!);
  expect(Buffer.from(await wav.arrayBuffer()).subarray(0, 4).toString('latin1')).toBe('RIFF');
  // Status and result were fetched at the owner/app URLs the submit answer gave (no model subpath).
  const paths = h.sandbox.log().filter((r) => r.vendor === 'fal').map((r) => `${r.method} ${r.path}`);
  expect(paths).toContain('POST /fal-ai/stable-audio');
  expect(paths.some((p) => /^GET \/fal-ai\/stable-audio\/requests\/[^/]+\/status$/.test(p))).toBe(true);
  expect(paths.some((p) => /^GET \/fal-ai\/stable-audio\/requests\/[^/]+$/.test(p))).toBe(true);
});

test('unknown ids are 404 with an error body; bad job input is 400 with no provider call', async () => {
  const stack = await h.stack({ kling: [klingKey()], fal: [falKey()] });
  const before = h.sandbox.calls();
  for (const path of ['/v1/videos/video_00000000000000000000000000000000', '/v1/videos/nope', '/v1/videos/nope/content', '/v1/audio/generations/audiogen_ffffffffffffffffffffffffffffffff']) {
    const res = await fetch(`${stack.url}${path}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.code).toMatch(/_not_found$/);
  }
  for (const [path, body] of [
    ['/v1/videos', { model: 'sora-2', prompt: 'x' }],
    ['/v1/videos', { model: 'kling-v1', prompt: 'x', seconds: 7 }],
    ['/v1/videos', { model: 'kling-v1', prompt: 'x', size: '640x480' }],
    ['/v1/videos', { model: 'kling-v1', prompt: 'x'.repeat(2501) }],
    ['/v1/audio/generations', { model: 'fal-ai/stable-audio', prompt: 'x', seconds: 90 }],
    ['/v1/audio/generations', { model: 'fal-ai/stable-audio' }],
  ] as const) {
    expect((await post(`${stack.url}${path}`, body)).status).toBe(400);
  }
  expect(h.sandbox.calls()).toBe(before);
});

test('a creation whose outcome is unknown (sent, then timed out) is not replayed: it is a job in state unknown', async () => {
  const stack = await h.stack({ kling: [klingKey(), klingKey()] }, { REQUEST_DEADLINE_MS: '1200' });
  h.sandbox.injectFaults('kling', [{ kind: 'slow_headers', delayMs: 3000 }]);
  const before = h.sandbox.calls({ vendor: 'kling' });
  const res = await post(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'never twice' });
  expect(res.status).toBe(200);
  expect(((await res.json()) as Job).status).toBe('unknown');
  expect(h.sandbox.calls({ vendor: 'kling' }) - before).toBe(1);
  h.sandbox.reset();
});

test('DynamoDB down at creation: the job is still answered, kept in memory, polled to the end, and stored when the store returns', async () => {
  const store = await startDynalite();
  const port = Number(new URL(store.endpoint).port);
  await ensureTable(store.endpoint, 'nanobot-config');
  const stack = await h.stack({ kling: [klingKey()] }, { DYNAMODB_ENDPOINT: store.endpoint, JOB_POLL_MIN_INTERVAL_MS: '0' });
  await store.close();
  const res = await post(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'stored later' });
  expect(res.status).toBe(200);
  const j = (await res.json()) as Job;
  const done = await until(stack, `/v1/videos/${j.id}`, (x) => x.status === 'completed');
  expect(done.url).toMatch(/^http/);
  const back = await startDynalite(port);
  await ensureTable(back.endpoint, 'nanobot-config');
  await stack.runtime.jobs.flushUnsaved();
  const stored = (await storedItemsText(back.endpoint)).split('\n').find((l) => l.includes(`JOB#${j.id}`));
  expect(stored).toContain('"status":{"S":"completed"}');
  await stack.close();
  await back.close();
});

test('no key, secret half or Kling token in any log line or stored item (job records hold key ids and fingerprints only)', async () => {
  const stored = await storedItemsText(h.dynamo.endpoint);
  expect(stored).toContain('JOB#video_');
  const all = h.output.join('');
  for (const secret of h.forbidden()) {
    expect(stored).not.toContain(secret);
    expect(all).not.toContain(secret);
  }
  expect(stored).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT
});
