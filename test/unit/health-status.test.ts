import { LogThrottle } from '../../lambda/domain';
import { bucketOf, emptyHistogram, LATENCY_ATTRS, percentile } from '../../lambda/health/histogram';
import { Counters, emptyCounters, minuteOf } from '../../lambda/health/counters';
import { meanQueueLength, statusOf } from '../../lambda/health/status';
import { windowElapsedMs, windowStartMinute } from '../../lambda/health/store';
import type { PoolCounts } from '../../lambda/keys/key-lease';
import { providerById } from '../../lambda/providers/registry';

const OPENAI_TTS_OBJECTIVE_MS = providerById('openai-tts').p95ObjectiveMs;

function hist(pairs: [number, number][]): number[] {
  const h = emptyHistogram();
  for (const [ms, n] of pairs) h[bucketOf(ms)] += n;
  return h;
}

describe('latency histogram', () => {
  test.each([
    [0, 0],
    [100, 0],
    [101, 1],
    [30_000, LATENCY_ATTRS.length - 2],
    [30_001, LATENCY_ATTRS.length - 1],
  ])('%j ms falls in bucket %j', (ms, b) => {
    expect(bucketOf(ms)).toBe(b);
  });

  test.each<[string, [number, number][], number, number | undefined]>([
    ['empty', [], 0.5, undefined],
    ['one sample', [[120, 1]], 0.5, 250],
    ['p50 inside the first bucket', [[50, 10]], 0.5, 50],
    ['p95 of 95 fast + 5 slow', [[80, 95], [4000, 5]], 0.95, 100],
    ['p96 of 95 fast + 5 slow reaches the slow bucket', [[80, 95], [4000, 5]], 0.96, 3400],
    ['overflow reports its lower bound', [[60_000, 3]], 0.95, 30_000],
  ])('%s: q=%j → %j', (_n, pairs, q, expected) => {
    expect(percentile(hist(pairs), q)).toBe(expected);
  });

  test('merging = adding counts: percentiles of merged writers equal those of the union', () => {
    const a = hist([[80, 40], [900, 10]]);
    const b = hist([[80, 10], [2500, 40]]);
    const merged = a.map((v, i) => v + b[i]);
    expect(percentile(merged, 0.5)).toBe(percentile(hist([[80, 50], [900, 10], [2500, 40]]), 0.5));
  });
});

const keys = (total: number, available: number, cooling: number, disabled: number): PoolCounts => ({ total, available, cooling, disabled });
function window(requests: number, successes: number, latencies: [number, number][] = [[500, successes]]): Counters {
  return { ...emptyCounters(), requests, successes, failures: requests - successes, latency: hist(latencies) };
}

describe('statusOf (thresholds documented in the README)', () => {
  test.each<[string, Counters, PoolCounts | undefined, string, string]>([
    ['no traffic, keys fine', window(0, 0, []), keys(2, 2, 0, 0), 'healthy', 'little or no traffic'],
    ['all served', window(100, 100), keys(2, 2, 0, 0), 'healthy', 'within objectives'],
    ['no key configured', window(0, 0, []), keys(0, 0, 0, 0), 'down', 'no key configured'],
    ['every key disabled', window(10, 10), keys(2, 0, 0, 2), 'down', 'every key disabled'],
    ['most requests fail', window(10, 4), keys(2, 2, 0, 0), 'down', 'most requests fail'],
    ['exactly half fail is not most', window(10, 5), keys(2, 2, 0, 0), 'degraded', 'success rate below 95%'],
    ['94% success', window(100, 94), keys(2, 2, 0, 0), 'degraded', 'success rate below 95%'],
    ['95% success is fine', window(100, 95), keys(2, 2, 0, 0), 'healthy', 'within objectives'],
    ['too few requests to judge the failures', window(4, 0, []), keys(2, 2, 0, 0), 'healthy', 'little or no traffic'],
    ['p95 above the objective (8 s for openai-tts)', window(20, 20, [[9_000, 20]]), keys(2, 2, 0, 0), 'degraded', 'p95 latency above objective'],
    ['every key cooling', window(0, 0, []), keys(2, 0, 2, 0), 'degraded', 'every key cooling'],
    ['some keys cooling', window(50, 50), keys(3, 2, 1, 0), 'degraded', 'some keys cooling or disabled'],
    ['window only (no pool known)', window(50, 50), undefined, 'healthy', 'within objectives'],
    ['long streams, first bytes fast: the objective is on time to first byte', { ...window(20, 20, [[60_000, 20]]), ttfb: hist([[400, 20]]) }, keys(2, 2, 0, 0), 'healthy', 'within objectives'],
    ['first bytes slower than the objective', { ...window(20, 20, [[60_000, 20]]), ttfb: hist([[9_000, 20]]) }, keys(2, 2, 0, 0), 'degraded', 'p95 time to first byte above objective'],
    ['first bytes late because requests waited for keys (queue p95 ≥ half the TTFB p95)', { ...window(20, 20, [[9_500, 20]]), ttfb: hist([[9_000, 20]]), queue: hist([[7_000, 12]]) }, keys(2, 2, 0, 0), 'degraded', 'p95 time to first byte above objective: waiting for keys'],
    ['first bytes late, short queue waits: the provider is slow', { ...window(20, 20, [[9_500, 20]]), ttfb: hist([[9_000, 20]]), queue: hist([[400, 12]]) }, keys(2, 2, 0, 0), 'degraded', 'p95 time to first byte above objective'],
    ['requests waited, first bytes within the objective', { ...window(20, 20, [[2_500, 20]]), ttfb: hist([[2_500, 20]]), queue: hist([[1_800, 20]]) }, keys(2, 2, 0, 0), 'healthy', 'within objectives'],
  ])('%s → %s', (_n, w, k, status, reason) => {
    expect(statusOf(OPENAI_TTS_OBJECTIVE_MS, w, k)).toMatchObject({ status, reason });
  });

  test('TTFB percentiles come from the TTFB histogram, apart from latency', () => {
    // Four-minute audio streams: total latency in the overflow bucket, first bytes within 100 ms.
    const w = { ...window(20, 20, [[240_000, 20]]), ttfb: hist([[80, 19], [1_500, 1]]) };
    expect(statusOf(OPENAI_TTS_OBJECTIVE_MS, w, keys(1, 1, 0, 0))).toMatchObject({ p50Ms: 30_000, p95Ms: 30_000, ttfbP50Ms: 53, ttfbP95Ms: 100 }); // ranks 10 and 19 of 19 in (0, 100]
    expect(statusOf(OPENAI_TTS_OBJECTIVE_MS, window(0, 0, []), keys(1, 1, 0, 0))).toMatchObject({ ttfbP50Ms: null, ttfbP95Ms: null });
  });

  test('queue figures: how many waited (the histogram total), the p95 wait, refusals at once', () => {
    const w = { ...window(30, 28), queue: hist([[80, 10], [4_500, 10]]), queueRefused: 2, queueWaitSumMs: 46_000 };
    expect(statusOf(OPENAI_TTS_OBJECTIVE_MS, w, keys(1, 1, 0, 0))).toMatchObject({ queued: 20, queueP95Ms: 4_800, queueRefused: 2, queueWaitSumMs: 46_000 }); // rank 19 of 20: the 9th of 10 in (3000, 5000]
    expect(statusOf(OPENAI_TTS_OBJECTIVE_MS, window(5, 5), keys(1, 1, 0, 0))).toMatchObject({ queued: 0, queueP95Ms: null, queueRefused: 0 });
  });

  test.each<[string, number, number, number]>([
    ['no wait', 0, 240_000, 0],
    ['one request waiting the whole span', 240_000, 240_000, 1],
    ['10 s of waits over 4 minutes', 10_000, 240_000, 0.04],
    ['three waiters on average', 900_000, 300_000, 3],
    ['an empty span says nothing', 5_000, 0, 0],
  ])('mean queue length (Little\'s law): %s', (_n, sumMs, spanMs, expected) => {
    expect(meanQueueLength({ queueWaitSumMs: sumMs }, spanMs)).toBe(expected);
  });

  test('summary figures', () => {
    expect(statusOf(OPENAI_TTS_OBJECTIVE_MS, window(10, 8, [[80, 8]]), keys(1, 1, 0, 0))).toMatchObject({ requests: 10, successes: 8, failures: 2, successRate: 0.8, p50Ms: 50 }); // rank 4 of 8 in (0, 100]: 50
  });
});

describe('minute buckets', () => {
  test('UTC minute and the 5-minute window start', () => {
    const t = Date.parse('2026-11-26T05:31:59.999Z');
    expect(minuteOf(t)).toBe('2026-11-26T05:31');
    expect(windowStartMinute(t)).toBe('2026-11-26T05:27');
    expect(windowStartMinute(Date.parse('2026-11-26T00:02:00Z'))).toBe('2026-11-25T23:58');
    expect(windowElapsedMs(t)).toBe(4 * 60_000 + 59_999);
    expect(windowElapsedMs(Date.parse('2026-11-26T00:02:00Z'))).toBe(4 * 60_000);
  });
});

describe('LogThrottle', () => {
  test('one line per interval, counting what it held back', () => {
    let now = 0;
    const t = new LogThrottle(60_000, () => now);
    expect(t.pass()).toBe(0);
    now = 1_000;
    expect(t.pass()).toBeUndefined();
    expect(t.pass()).toBeUndefined();
    now = 60_000;
    expect(t.pass()).toBe(2);
    now = 60_001;
    expect(t.pass()).toBeUndefined();
  });
});
