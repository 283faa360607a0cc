import { ensureTable, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { createDocumentClient, HealthStore } from '../../lambda/health/store';
import { emptyCounters } from '../../lambda/health/counters';
import { healthItems } from '../support/harness';

/** The BUCKET write against dynalite: atomic ADDs that merge writers, applied at most once per writer sequence. */
let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
  await ensureTable(dynamo.endpoint, 'nanobot-config');
});
afterAll(() => dynamo.close());

test('a re-sent write (same writer, same sequence) is applied once; writers merge; every documented counter is present', async () => {
  const ddb = createDocumentClient({ endpoint: dynamo.endpoint });
  const store = new HealthStore(ddb, 'nanobot-config');
  const c = { ...emptyCounters(), requests: 3, successes: 2, failures: 1 };
  await store.addBucket('fal-flux', '2026-11-26T07:00', c, 'writerA', 1);
  await store.addBucket('fal-flux', '2026-11-26T07:00', c, 'writerA', 1); // the retry of a timed-out write
  await store.addBucket('fal-flux', '2026-11-26T07:00', c, 'writerB', 1); // another container
  await store.addBucket('fal-flux', '2026-11-26T07:00', { ...emptyCounters(), requests: 1, successes: 1 }, 'writerA', 2);
  const [item] = (await healthItems(dynamo.endpoint, 'fal-flux')).filter((i) => i.sk === 'BUCKET#2026-11-26T07:00');
  expect(item).toMatchObject({ requests: 7, successes: 5, failures: 2, rateLimited: 0, rotations: 0, w_writerA: 2, w_writerB: 1 });
  ddb.destroy();
});
