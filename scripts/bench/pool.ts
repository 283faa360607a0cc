import { KeyPool } from '../../lambda/keys/key-pool';
import { fmt, mdTable, Scenario } from './lib';

/** Picks per second for one provider, with half the keys cooling and `forbidden` of the usable ones kept out of that provider. */
function picksPerSecond(size: number, forbidden: number): { rate: number; all: boolean } {
  let now = 0;
  const pool = new KeyPool('openai', Array.from({ length: size }, (_, i) => `sk-bench-${i}`), () => now);
  // Half the keys cooling for a long time (for size 1: none, there is no half).
  for (let i = 0; i < Math.floor(size / 2); i++) pool.markRateLimited(pool.leaseById(`openai#${2 * i + 1}`)!, 3_600_000);
  for (let i = 0; i < forbidden; i++) pool.markForbidden(pool.leaseById(`openai#${2 * i + 2}`)!, 'openai-tts', '401:missing_scope');
  const picks = 2_000_000;
  for (let i = 0; i < 100_000; i++) pool.pick('openai-tts'); // warm-up
  const t0 = process.hrtime.bigint();
  let got = 0;
  for (let i = 0; i < picks; i++) {
    now += 1; // time moves, so expiry checks run as they would in service
    if (pool.pick('openai-tts').kind === 'key') got += 1;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rate: picks / secs, all: got === picks };
}

/**
 * Key picks per second at pool sizes 1, 10, 100, 1000, with half the keys cooling (re-cooled as
 * they come back, so the pool always has cooling keys in the way of a naive scan).
 */
export const poolScenario: Scenario = {
  name: 'pool',
  title: 'Key pool: picks per second',
  async run() {
    const rows: (string | number)[][] = [];
    const rates: Record<number, number> = {};
    const scopedRates: Record<number, number> = {};
    for (const size of [1, 10, 100, 1000]) {
      const plain = picksPerSecond(size, 0);
      const scoped = picksPerSecond(size, Math.floor(size / 4));
      rates[size] = plain.rate;
      scopedRates[size] = scoped.rate;
      rows.push([size, Math.floor(size / 2), fmt(plain.rate / 1e6, 2), fmt(1e9 / plain.rate, 0), Math.floor(size / 4), fmt(scoped.rate / 1e6, 2), plain.all && scoped.all ? 'yes' : 'no']);
    }
    const ratio = rates[1000] / rates[10];
    return {
      table: mdTable(['keys', 'cooling', 'M picks/s', 'ns/pick', 'kept out of the provider too', 'M picks/s for that provider', 'every pick got a key it may use'], rows),
      summary: `${fmt(rates[1000] / 1e6, 2)} M picks/s at 1000 keys with 500 cooling (target ≥ 1 M: ${rates[1000] >= 1e6 ? 'met' : 'MISSED'}); 1000-key rate is ${fmt(ratio, 2)}× the 10-key rate (O(1): flat); ${fmt(scopedRates[1000] / 1e6, 2)} M/s for a provider that 250 more keys may not use.`,
      notes: 'Method: one process, 2 M picks per size after 100 k warm-up picks; the clock advances 1 ms per pick so expiry checks run. Last columns: the same pool, a quarter of the keys also kept out of one provider (refused access there), picks for that provider.',
    };
  },
};
