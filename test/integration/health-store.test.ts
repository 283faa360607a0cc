import { ensureTable, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { createDocumentClient, HealthStore } from '../../lambda/health/store';
import { Counters, emptyCounters } from '../../lambda/health/counters';
import { TTFB_ATTRS } from '../../lambda/health/histogram';
import { statusOf } from '../../lambda/health/status';
import { healthItems } from '../support/harness';

/** The BUCKET write against dynalite: atomic ADDs that merge writers, applied at most once per writer sequence. */
let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
  await ensureTable(dynamo.endpoint, 'nanobot-config');
});
afterAll(() => dynamo.close());

/** Counters with histogram counts at the given bucket indexes. */
function counters(over: Partial<Counters>, latency: Record<number, number> = {}, ttfb: Record<number, number> = {}): Counters {
  const c = { ...emptyCounters(), ...over };
  for (const [i, n] of Object.entries(latency)) c.latency[Number(i)] = n;
  for (const [i, n] of Object.entries(ttfb)) c.ttfb[Number(i)] = n;
  return c;
}

test('a re-sent write (same writer, same sequence) is applied once; writers merge; every documented counter is present', async () => {
  const ddb = createDocumentClient({ endpoint: dynamo.endpoint });
  const store = new HealthStore(ddb, 'nanobot-config');
  // Two served (one fast, one a long stream that started fast), one stream cut after its first byte.
  const c = counters({ requests: 3, successes: 2, failures: 1, streamAborted: 1 }, { 0: 1, 7: 1 }, { 0: 2 });
  await store.addBucket('fal-flux', '2026-11-26T07:00', c, 'writerA', 1);
  await store.addBucket('fal-flux', '2026-11-26T07:00', c, 'writerA', 1); // the retry of a timed-out write
  await store.addBucket('fal-flux', '2026-11-26T07:00', c, 'writerB', 1); // another container
  await store.addBucket('fal-flux', '2026-11-26T07:00', counters({ requests: 1, successes: 1 }, { 11: 1 }, { 11: 1 }), 'writerA', 2);
  const [item] = (await healthItems(dynamo.endpoint, 'fal-flux')).filter((i) => i.sk === 'BUCKET#2026-11-26T07:00');
  expect(item).toMatchObject({
    requests: 7, successes: 5, failures: 2, rateLimited: 0, rotations: 0, streamAborted: 2, w_writerA: 2, w_writerB: 1,
    lat_le_100: 2, lat_le_8000: 2, lat_gt_30000: 1,
    ttfb_le_100: 4, ttfb_gt_30000: 1,
  });
  // Histogram buckets are written only when used.
  expect(Object.keys(item).filter((k) => k.startsWith('ttfb_')).sort()).toEqual(['ttfb_gt_30000', 'ttfb_le_100']);

  // The window read sums them back into both histograms; the STATUS item carries TTFB percentiles.
  const now = Date.parse('2026-11-26T07:00:30Z');
  const w = await store.readWindow('fal-flux', now);
  expect(w).toMatchObject({ requests: 7, successes: 5, streamAborted: 2 });
  expect(w.ttfb[0]).toBe(4);
  expect(w.ttfb[TTFB_ATTRS.length - 1]).toBe(1);
  expect(w.ttfb.reduce((a, b) => a + b, 0)).toBe(w.successes);
  await store.putStatus('fal-flux', statusOf(20_000, w), now);
  expect(await store.getStatus('fal-flux')).toMatchObject({ ttfbP50Ms: 75, ttfbP95Ms: 30_000 }); // p50: rank 3, the 3rd of 4 in (0, 100]; p95: rank 5, the overflow
  ddb.destroy();
});
