import { KeyPool } from '../../lambda/keys/key-pool';
import { fmt, mdTable, Scenario } from './lib';

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
    for (const size of [1, 10, 100, 1000]) {
      let now = 0;
      const pool = new KeyPool('openai', Array.from({ length: size }, (_, i) => `sk-bench-${i}`), () => now);
      // Half the keys cooling for a long time (for size 1: none, there is no half).
      for (let i = 0; i < Math.floor(size / 2); i++) pool.markRateLimited(pool.leaseById(`openai#${2 * i + 1}`)!, 3_600_000);
      const picks = 2_000_000;
      for (let i = 0; i < 100_000; i++) pool.pick(); // warm-up
      const t0 = process.hrtime.bigint();
      let got = 0;
      for (let i = 0; i < picks; i++) {
        now += 1; // time moves, so expiry checks run as they would in service
        if (pool.pick().kind === 'key') got += 1;
      }
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const rate = picks / secs;
      rates[size] = rate;
      rows.push([size, Math.floor(size / 2), fmt(rate / 1e6, 2), fmt((secs / picks) * 1e9, 0), got === picks ? 'yes' : `no (${got})`]);
    }
    const ratio = rates[1000] / rates[10];
    return {
      table: mdTable(['keys', 'cooling', 'M picks/s', 'ns/pick', 'every pick got a key'], rows),
      summary: `${fmt(rates[1000] / 1e6, 2)} M picks/s at 1000 keys with 500 cooling (target ≥ 1 M: ${rates[1000] >= 1e6 ? 'met' : 'MISSED'}); 1000-key rate is ${fmt(ratio, 2)}× the 10-key rate (O(1): flat).`,
      notes: 'Method: one process, 2 M picks per size after 100 k warm-up picks; the clock advances 1 ms per pick so expiry checks run.',
    };
  },
};
