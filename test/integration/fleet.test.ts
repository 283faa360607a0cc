import { createServer, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Harness, post, speechBody } from './harness';
import { ensureTable, startDynalite } from '../../scripts/local/dynamo';
import { SharedKeyState } from '../../lambda/keys/shared-state';
import { KeyPools } from '../../lambda/keys/pools';
import { createDocumentClient } from '../../lambda/health/store';
import { MemoryLog } from '../../lambda/observability/logger';

/**
 * Issue 7 "Done when": four gateway instances (separate key pools, as separate Lambda containers
 * have) sharing one dynalite and one sandbox.
 */
const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());

let n = 0;
const freshKeys = (count: number) => {
  n += 1;
  return Array.from({ length: count }, (_, i) => `sk-fleet${n}k${i + 1}${Math.random().toString(36).slice(2, 12)}${Math.random().toString(36).slice(2, 12)}`);
};

async function fleetRun(sharing: 'on' | 'off') {
  const keys = freshKeys(3);
  for (const k of keys) h.sandbox.configureKey('openai', k, { rateLimit: { calls: 3, windowMs: 30_000 }, retryHint: 'seconds' });
  const instances = await Promise.all(Array.from({ length: 4 }, () => h.stack({ openai: keys }, { KEY_STATE_SHARING: sharing })));
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = Date.now();
    statuses.push((await post(`${instances[i % 4].url}/v1/audio/speech`, speechBody({ input: `fleet ${i}` }))).status);
    await new Promise((r) => setTimeout(r, Math.max(0, 300 - (Date.now() - t0))));
  }
  const wasted = keys.map((k) => h.sandbox.log().filter((r) => r.key === k && r.status === 429).length);
  for (const s of instances) await s.close();
  return { served: statuses.filter((s) => s === 200).length, refused: statuses.filter((s) => s === 429).length, other: statuses.filter((s) => s !== 200 && s !== 429).length, wasted };
}

test('four instances, three keys limited to 3 calls per 30 s, 30 requests 300 ms apart: capacity served, the rest refused, ≤ 2 wasted 429s per key; sharing off shown beside', async () => {
  const on = await fleetRun('on');
  const off = await fleetRun('off');
  process.stdout.write(`[figure] fleet sharing on:  served ${on.served}, refused ${on.refused}, wasted 429s per key ${on.wasted.join('/')}\n`);
  process.stdout.write(`[figure] fleet sharing off: served ${off.served}, refused ${off.refused}, wasted 429s per key ${off.wasted.join('/')}\n`);
  expect(on).toMatchObject({ served: 9, refused: 21, other: 0 });
  for (const w of on.wasted) expect(w).toBeLessThanOrEqual(2);
  // Isolated instances each learn every key's limit on their own.
  expect(off.served).toBe(9);
  expect(off.wasted.reduce((a, b) => a + b, 0)).toBeGreaterThan(on.wasted.reduce((a, b) => a + b, 0));
}, 60_000);

test('DynamoDB down: instances fall back to local key state and keep serving', async () => {
  const store = await startDynalite();
  await ensureTable(store.endpoint, 'nanobot-config');
  const keys = freshKeys(2);
  h.sandbox.configureKey('openai', keys[0], { rateLimit: { calls: 1, windowMs: 60_000 }, retryHint: 'seconds' });
  const mark = h.output.length;
  const a = await h.stack({ openai: keys }, { DYNAMODB_ENDPOINT: store.endpoint, KEY_STATE_REFRESH_MS: '0' });
  const b = await h.stack({ openai: keys }, { DYNAMODB_ENDPOINT: store.endpoint, KEY_STATE_REFRESH_MS: '0' });
  await store.close();
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await post(`${[a, b][i % 2].url}/v1/audio/speech`, speechBody())).status);
  expect(statuses).toEqual(Array(8).fill(200));
  // Each instance learnt the limited key on its own (one wasted 429 each at most), and kept serving.
  expect(h.sandbox.log().filter((r) => r.key === keys[0] && r.status === 429).length).toBeLessThanOrEqual(2);
  expect(a.runtime.keyState!.stats.errors).toBeGreaterThan(0);
  const warnings = h.output.slice(mark).join('').split('\n').filter((l) => l.includes('shared key state'));
  expect(warnings.length).toBeGreaterThanOrEqual(1);
  expect(warnings.length).toBeLessThanOrEqual(4); // once per interval per instance and kind, not per request
});

test('a request never waits on a key-state read longer than the budget, even when the store hangs', async () => {
  // A store that accepts connections and never answers.
  const sockets: Socket[] = [];
  const hole = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(hole.address() as AddressInfo).port}`;
  const pools = new KeyPools({ openai: ['sk-a'] }, Date.now);
  const ddb = createDocumentClient({ endpoint });
  const shared = new SharedKeyState(ddb, 'nanobot-config', pools, new MemoryLog(), Date.now, { refreshIntervalMs: 0, waitBudgetMs: 20, coldStartBudgetMs: 50, errorLogIntervalMs: 60_000, refreshAheadMs: 0 });
  for (let i = 0; i < 3; i++) await shared.beforeRequest('openai');
  await shared.loadAll();
  // The reads never completed: every wait ended on the budget timer, none on an answer.
  expect(shared.stats.budgetExceeded).toBe(3);
  expect(shared.stats.reads).toBe(0);
  ddb.destroy();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => hole.close(() => r()));
});
