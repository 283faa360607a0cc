import type { HttpResult } from '../../lambda/http/app';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

import { localClient } from '../../scripts/local/dynamo';
import type { LocalStack } from '../../scripts/local/stack';
import { BAD_MEDIA_URLS } from '../support/bad-media-urls';
import { RewriteProxy } from '../support/rewrite-proxy';
import { Harness, post, storedItemsText } from './harness';

/**
 * Jobs hardening (issue items 4–8), through the local server (or the Lambda app itself, where a
 * test needs API Gateway's API key id) against the sandbox over HTTP and dynalite.
 */
jest.setTimeout(60_000);
const h = new Harness();
beforeAll(() => h.start({ jobDurationMs: 400 }));
afterAll(() => h.stop());

let n = 0;
const rnd = () => Math.random().toString(36).slice(2, 12);
const klingKey = () => `AKhard${++n}${rnd()}:SKhard${n}${rnd()}${rnd()}`;
const falKey = () => `falhard${++n}${rnd()}:falsecret${rnd()}${rnd()}`;
const access = (k: string) => k.split(':')[0];
const video = (prompt: string) => ({ model: 'kling-v1', prompt });

interface Job { id: string; status: string; url?: string; error: { code: string; message: string } | null }

async function getJob(stack: LocalStack, path: string): Promise<Job> {
  const res = await fetch(`${stack.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Job;
}

async function until(stack: LocalStack, path: string, done: (j: Job) => boolean, tries = 150): Promise<Job> {
  for (let i = 0; i < tries; i++) {
    const j = await getJob(stack, path);
    if (done(j)) return j;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never finished`);
}
const terminal = (j: Job) => j.status === 'completed' || j.status === 'failed';

/** An API Gateway proxy event for the Lambda app itself: the only way to carry an API key id locally. */
function event(method: string, path: string, opts: { body?: unknown; apiKeyId?: string; headers?: Record<string, string> } = {}): APIGatewayProxyEvent {
  return {
    httpMethod: method, path, resource: '/{proxy+}', headers: { 'content-type': 'application/json', ...opts.headers }, multiValueHeaders: {},
    queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: null, stageVariables: null,
    body: opts.body === undefined ? null : JSON.stringify(opts.body), isBase64Encoded: false,
    requestContext: { requestId: `req-${rnd()}`, identity: { apiKeyId: opts.apiKeyId ?? null } } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}
/** Job answers are JSON read whole (never a stream). */
const bodyOf = (r: HttpResult) => {
  if ('stream' in r) throw new Error('a job answer streamed');
  return JSON.parse(r.body) as Job & { error: { code: string } | null; request_id?: string };
};

describe('item 4: a job redirects only to https on the vendor media hosts (or MEDIA_URL_HOSTS)', () => {
  test('every bad URL a provider poll returns fails its job with a clear error; good ones are served', async () => {
    const proxy = new RewriteProxy(new URL(h.sandbox.urls.kling).origin);
    await proxy.start();
    const wanted = new Map<string, string>();
    proxy.rewrite = (_path, body) => {
      const data = (body as { data?: { task_status?: string; task_info?: { external_task_id?: string }; task_result?: { videos: { url: string }[] } } }).data;
      const u = wanted.get(data?.task_info?.external_task_id ?? '');
      if (data?.task_status === 'succeed' && u !== undefined && data.task_result) data.task_result.videos[0].url = u;
      return body;
    };
    const stack = await h.stack({ kling: [klingKey()] }, { KLING_BASE_URL: `${proxy.origin}/kling`, JOB_POLL_MIN_INTERVAL_MS: '0', MEDIA_URL_HOSTS: 'cdn.example.com,.example.net' });
    const good = [`${proxy.origin}/files/video/x.mp4`, 'https://cdn.klingai.com/bs2/upload-kling-api/1/text2video/v.mp4', 'https://cdn.example.com/v.mp4', 'https://a.example.net/v.mp4'];
    const cases = [...BAD_MEDIA_URLS.map((u) => ({ u, ok: false })), ...good.map((u) => ({ u, ok: true }))];
    const from = h.output.length;
    try {
      const ids = await Promise.all(cases.map(async ({ u }) => {
        const res = await post(`${stack.url}/v1/videos`, video('a redirect test'));
        expect(res.status).toBe(200);
        const { id } = (await res.json()) as Job;
        wanted.set(id, u);
        return id;
      }));
      const done = await Promise.all(ids.map((id) => until(stack, `/v1/videos/${id}`, terminal)));
      for (const [i, { u, ok }] of cases.entries()) {
        const content = await fetch(`${stack.url}/v1/videos/${ids[i]}/content`, { redirect: 'manual' });
        expect(content.headers.get('x-request-id')).toBeTruthy();
        if (ok) {
          expect(done[i]).toMatchObject({ status: 'completed', url: new URL(u).href });
          expect(content.status).toBe(302);
          expect(content.headers.get('location')).toBe(new URL(u).href);
        } else {
          expect({ u, status: done[i].status, code: done[i].error?.code, url: done[i].url }).toEqual({ u, status: 'failed', code: 'invalid_media_url', url: undefined });
          expect(content.status).toBe(409);
          expect(((await content.json()) as { error: { code: string } }).error.code).toBe('video_failed');
        }
      }
      expect(h.logLines(from, 'job result URL refused; job failed')).toHaveLength(BAD_MEDIA_URLS.length);
    } finally {
      await stack.close();
      await proxy.close();
    }
  });

  test('a stored record with a bad URL (written before the check existed) is served as failed, never redirected', async () => {
    const stack = await h.stack({ kling: [klingKey()] });
    const id = `video_${'ab'.repeat(16)}`;
    const now = Date.now();
    const ddb = localClient(h.dynamo.endpoint);
    await ddb.send(new PutItemCommand({ TableName: 'nanobot-config', Item: marshall({
      pk: `JOB#${id}`, sk: 'JOB', id, object: 'video', provider: 'kling-video', model: 'kling-v1', prompt: 'old', seconds: '5', providerTaskId: 't1',
      keyId: 'kling#1', keyFingerprint: 'ffffffff', status: 'completed', createdAt: now, completedAt: now, lastRefreshAt: now, expectedMs: 1000,
      url: 'https://cdn.klingai.com/v.mp4\r\nSet-Cookie: a=b',
    }) }));
    ddb.destroy();
    expect(await getJob(stack, `/v1/videos/${id}`)).toMatchObject({ status: 'failed', error: { code: 'invalid_media_url' } });
    const content = await fetch(`${stack.url}/v1/videos/${id}/content`, { redirect: 'manual' });
    expect(content.status).toBe(409);
    expect(content.headers.get('location')).toBeNull();
    expect(((await content.json()) as { request_id: string }).request_id).toBe(content.headers.get('x-request-id'));
    await stack.close();
  });
});

describe('item 5: a creation whose answer is lost is a job in state unknown, resolved by the next poll', () => {
  test('Kling, answer timed out, task made late: unknown, then found by external_task_id and completed; never created twice', async () => {
    const key = klingKey();
    const stack = await h.stack({ kling: [key] }, { REQUEST_DEADLINE_MS: '1200', JOB_POLL_MIN_INTERVAL_MS: '0', JOB_UNKNOWN_GRACE_MS: '20000' });
    h.sandbox.injectFaults('kling', [{ kind: 'slow_headers', delayMs: 2000, key }]);
    const res = await post(`${stack.url}/v1/videos`, video('a late answer'));
    expect(res.status).toBe(200);
    const j = (await res.json()) as Job;
    expect(j).toMatchObject({ status: 'unknown', error: null });
    // The sandbox makes the task only after 2 s: until then the lookup by our id answers 404, and the job stays unknown.
    expect((await getJob(stack, `/v1/videos/${j.id}`)).status).toBe('unknown');
    const done = await until(stack, `/v1/videos/${j.id}`, terminal);
    expect(done).toMatchObject({ status: 'completed', url: expect.stringMatching(/^http/) });
    const mine = h.sandbox.log().filter((r) => r.key === access(key));
    expect(mine.filter((r) => r.method === 'POST')).toHaveLength(1);
    const polls = mine.filter((r) => r.method === 'GET').map((r) => r.path);
    expect(polls[0]).toBe(`/v1/videos/text2video/${j.id}`);
    // Found: later polls use Kling's own task id.
    expect(polls[polls.length - 1]).not.toContain(j.id);
    await stack.close();
  });

  test('Kling, connection reset before the task was made: unknown, then failed task_not_found after the grace period; a retry makes one task', async () => {
    const key = klingKey();
    const stack = await h.stack({ kling: [key] }, { JOB_POLL_MIN_INTERVAL_MS: '0', JOB_UNKNOWN_GRACE_MS: '300' });
    h.sandbox.injectFaults('kling', [{ kind: 'reset', key }]);
    const j = (await (await post(`${stack.url}/v1/videos`, video('reset'))).json()) as Job;
    expect(j.status).toBe('unknown');
    const done = await until(stack, `/v1/videos/${j.id}`, terminal);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'task_not_found', message: expect.stringContaining('safe to create it again') } });
    expect((await post(`${stack.url}/v1/videos`, video('reset'))).status).toBe(200);
    expect(h.sandbox.log().filter((r) => r.key === access(key) && r.method === 'POST').map((r) => r.status)).toEqual([0, 200]);
    await stack.close();
  });

  test('fal, submit answer unreadable but carrying the request id: unknown, then polled to completion with that id', async () => {
    const key = falKey();
    const stack = await h.stack({ fal: [key] }, { JOB_POLL_MIN_INTERVAL_MS: '0' });
    h.sandbox.injectFaults('fal', [{ kind: 'malformed_json', key, pathIncludes: '/fal-ai/stable-audio' }]);
    const res = await post(`${stack.url}/v1/audio/generations`, { model: 'fal-ai/stable-audio', prompt: 'calm piano', seconds: 3 });
    expect(res.status).toBe(200);
    const j = (await res.json()) as Job;
    expect(j.status).toBe('unknown');
    expect(await until(stack, `/v1/audio/generations/${j.id}`, terminal)).toMatchObject({ status: 'completed' });
    expect(h.sandbox.log().filter((r) => r.key === key && r.method === 'POST')).toHaveLength(1);
    await stack.close();
  });

  test('fal, no answer at all: fal cannot look a request up by our id, so 502 outcome_unknown, not replayed', async () => {
    const key = falKey();
    const stack = await h.stack({ fal: [key] });
    h.sandbox.injectFaults('fal', [{ kind: 'reset', key }]);
    const res = await post(`${stack.url}/v1/audio/generations`, { model: 'fal-ai/stable-audio', prompt: 'lost', seconds: 3 });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('outcome_unknown');
    expect(h.sandbox.log().filter((r) => r.key === key && r.method === 'POST')).toHaveLength(1);
    await stack.close();
  });
});

describe('item 6: Idempotency-Key on job creation', () => {
  test('same key and body: the same job, one provider task; another body: 422; a request that made nothing releases the key', async () => {
    const key = klingKey();
    const stack = await h.stack({ kling: [key] });
    const k = { 'content-type': 'application/json', 'idempotency-key': `order-${rnd()}` };
    const first = await post(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'once', seconds: 5 }, k);
    expect(first.status).toBe(200);
    const a = (await first.json()) as Job;
    // The same body, written differently (key order, spacing): the same request.
    const again = await post(`${stack.url}/v1/videos`, '{ "seconds": 5, "prompt": "once",  "model": "kling-v1" }', { 'content-type': 'application/json', 'Idempotency-Key': k['idempotency-key'] });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as Job).id).toBe(a.id);
    // Powertools' record, in nanobot-config: this caller's partition (none locally), expiring in 24 h.
    const rec = (await storedItemsText(h.dynamo.endpoint)).split('\n').map((l) => JSON.parse(l) as Record<string, { S?: string; N?: string }>)
      .filter((i) => i.pk.S === 'IDEMPOTENCY#-' && JSON.stringify(i.data ?? '').includes(a.id));
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({ sk: { S: expect.stringMatching(/^job#/) }, status: { S: 'COMPLETED' } });
    expect(Number(rec[0].ttl.N) - Date.now() / 1000).toBeGreaterThan(24 * 3600 - 60);
    const other = await post(`${stack.url}/v1/videos`, { model: 'kling-v1', prompt: 'twice' }, k);
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    expect(h.sandbox.log().filter((r) => r.key === access(key) && r.method === 'POST')).toHaveLength(1);

    // A creation refused by the provider made no task: the same key may try again.
    const k2 = { ...k, 'idempotency-key': `order-${rnd()}` };
    h.sandbox.injectFaults('kling', [{ kind: 'status', status: 400, key }]);
    expect((await post(`${stack.url}/v1/videos`, video('refused first'), k2)).status).toBe(400);
    expect((await post(`${stack.url}/v1/videos`, video('refused first'), k2)).status).toBe(200);
    const bad = await post(`${stack.url}/v1/videos`, video('x'), { ...k, 'idempotency-key': 'a b' });
    expect(bad.status).toBe(400);
    await stack.close();
  });

  test('a concurrent duplicate while the first is in flight: 409 with Retry-After, and still one task', async () => {
    const key = klingKey();
    const stack = await h.stack({ kling: [key] });
    h.sandbox.injectFaults('kling', [{ kind: 'slow_headers', delayMs: 800, key }]);
    const k = { 'content-type': 'application/json', 'idempotency-key': `dup-${rnd()}` };
    const first = post(`${stack.url}/v1/videos`, video('concurrent'), k);
    await new Promise((r) => setTimeout(r, 300));
    const second = await post(`${stack.url}/v1/videos`, video('concurrent'), k);
    expect(second.status).toBe(409);
    expect(second.headers.get('retry-after')).toBe('2');
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_in_use');
    expect((await first).status).toBe(200);
    expect(h.sandbox.log().filter((r) => r.key === access(key) && r.method === 'POST')).toHaveLength(1);
    await stack.close();
  });

  test('keys are per API key: the same Idempotency-Key from two API keys makes two jobs', async () => {
    const key = klingKey();
    const stack = await h.stack({ kling: [key] });
    const headers = { 'idempotency-key': 'shared-key-1' };
    const a = await stack.runtime.app(event('POST', '/v1/videos', { body: video('scoped'), apiKeyId: 'keyA', headers }));
    const b = await stack.runtime.app(event('POST', '/v1/videos', { body: video('scoped'), apiKeyId: 'keyB', headers }));
    const a2 = await stack.runtime.app(event('POST', '/v1/videos', { body: video('scoped'), apiKeyId: 'keyA', headers }));
    expect([a.statusCode, b.statusCode, a2.statusCode]).toEqual([200, 200, 200]);
    expect(bodyOf(a).id).not.toBe(bodyOf(b).id);
    expect(bodyOf(a2).id).toBe(bodyOf(a).id);
    expect(h.sandbox.log().filter((r) => r.key === access(key) && r.method === 'POST')).toHaveLength(2);
    await stack.close();
  });
});

describe('item 7: a job belongs to the API key that created it', () => {
  test('another API key (or none) gets 404, exactly as for an id that does not exist', async () => {
    const stack = await h.stack({ kling: [klingKey()] });
    const created = await stack.runtime.app(event('POST', '/v1/videos', { body: video('mine'), apiKeyId: 'owner1' }));
    const { id } = bodyOf(created);
    const as = (apiKeyId: string | undefined, path = `/v1/videos/${id}`) => stack.runtime.app(event('GET', path, { apiKeyId }));
    expect((await as('owner1')).statusCode).toBe(200);
    const missing = await as('intruder', `/v1/videos/video_${'0'.repeat(32)}`);
    for (const r of [await as('intruder'), await as(undefined), await as('intruder', `/v1/videos/${id}/content`)]) {
      expect(r.statusCode).toBe(404);
      expect(bodyOf(r).error).toEqual({ ...(bodyOf(missing).error as object), message: expect.stringContaining('No video with id') });
    }
    await stack.close();
  });
});

describe('item 8: polls are single-flight', () => {
  const countPolls = (key: string) => h.sandbox.log().filter((r) => r.key === access(key) && r.method === 'GET').length;

  test('100 concurrent GETs of one due job: one provider poll', async () => {
    const key = klingKey();
    const stack = await h.stack({ kling: [key] }, { JOB_POLL_MIN_INTERVAL_MS: '1000' });
    const j = (await (await post(`${stack.url}/v1/videos`, video('popular'))).json()) as Job;
    await new Promise((r) => setTimeout(r, 1100));
    const answers = await Promise.all(Array.from({ length: 100 }, () => fetch(`${stack.url}/v1/videos/${j.id}`)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(countPolls(key)).toBe(1);
    await stack.close();
  });

  test('two containers, 50 concurrent GETs each: one provider poll in the fleet (conditional claim on lastRefreshAt)', async () => {
    const key = klingKey();
    const env = { JOB_POLL_MIN_INTERVAL_MS: '1000' };
    const [one, two] = [await h.stack({ kling: [key] }, env), await h.stack({ kling: [key] }, env)];
    const j = (await (await post(`${one.url}/v1/videos`, video('fleet'))).json()) as Job;
    await new Promise((r) => setTimeout(r, 1100));
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => fetch(`${(i % 2 ? one : two).url}/v1/videos/${j.id}`)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(countPolls(key)).toBe(1);
    await one.close();
    await two.close();
  });
});
