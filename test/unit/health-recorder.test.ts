import type { RequestSummary } from '../../lambda/domain';
import { addInto, emptyCounters } from '../../lambda/health/counters';
import { bucketOf, LATENCY_ATTRS, QUEUE_ATTRS, TTFB_ATTRS } from '../../lambda/health/histogram';
import { HealthRecorder } from '../../lambda/health/recorder';
import { RequestTally } from '../../lambda/rotation/tally';

const AT = Date.parse('2026-11-26T05:31:20Z');
const summary = (over: Partial<RequestSummary> = {}): RequestSummary => ({
  provider: 'openai-tts', served: true, status: 200, latencyMs: 4_000, attempts: 1, rateLimited: 0, rotations: 0,
  keysDisabled: 0, allKeysExhausted: false, upstreamLatencyMs: [], at: AT, ...over,
});

/** The only bucket the recorder holds, after the given summaries. */
function recorded(...summaries: RequestSummary[]) {
  const r = new HealthRecorder();
  for (const s of summaries) r.requestDone(s);
  const drained = r.drain();
  expect(drained).toHaveLength(1);
  return drained[0].counters;
}

describe('HealthRecorder: time to first byte and aborted streams', () => {
  test('the TTFB histogram uses the latency bounds, as ttfb_le_* attributes', () => {
    expect(TTFB_ATTRS).toEqual(LATENCY_ATTRS.map((a) => a.replace(/^lat_/, 'ttfb_')));
    expect(TTFB_ATTRS[0]).toBe('ttfb_le_100');
    expect(TTFB_ATTRS[TTFB_ATTRS.length - 1]).toBe('ttfb_gt_30000');
  });

  test('a served stream lands in both histograms, each at its own value', () => {
    // A long audio answer: first byte after 180 ms, last after 4 s.
    const c = recorded(summary({ latencyMs: 4_000, ttfbMs: 180 }));
    expect(c).toMatchObject({ requests: 1, successes: 1, failures: 0, streamAborted: 0 });
    expect(c.latency[bucketOf(4_000)]).toBe(1);
    expect(c.ttfb[bucketOf(180)]).toBe(1);
    expect(c.ttfb.reduce((a, b) => a + b, 0)).toBe(1);
    expect(bucketOf(180)).not.toBe(bucketOf(4_000));
  });

  test('an answer read whole (ttfb = latency) lands in the same bucket of both', () => {
    const c = recorded(summary({ latencyMs: 700, ttfbMs: 700 }));
    expect(c.ttfb).toEqual(c.latency);
  });

  test('a stream cut after its first byte is a failure and a streamAborted, in neither histogram', () => {
    const c = recorded(summary({ served: false, streamAborted: true, latencyMs: 2_500 }), summary({ ttfbMs: 90, latencyMs: 900 }));
    expect(c).toMatchObject({ requests: 2, successes: 1, failures: 1, streamAborted: 1 });
    expect(c.ttfb.reduce((a, b) => a + b, 0)).toBe(1);
    expect(c.latency.reduce((a, b) => a + b, 0)).toBe(1);
  });

  test('a failure before any byte is not a streamAborted', () => {
    const c = recorded(summary({ served: false, status: 502, latencyMs: 300 }));
    expect(c).toMatchObject({ failures: 1, streamAborted: 0 });
  });

  test('a served summary without ttfbMs (a body with no byte) stays out of the TTFB histogram', () => {
    const c = recorded(summary());
    expect(c.successes).toBe(1);
    expect(c.ttfb.every((n) => n === 0)).toBe(true);
  });

  test('addInto merges streamAborted and the TTFB histogram (the flusher coalesces with it)', () => {
    const a = recorded(summary({ ttfbMs: 50 }), summary({ served: false, streamAborted: true }));
    const b = recorded(summary({ ttfbMs: 50 }), summary({ ttfbMs: 40_000 }));
    const sum = addInto(addInto(emptyCounters(), a), b);
    expect(sum.streamAborted).toBe(1);
    expect(sum.ttfb[bucketOf(50)]).toBe(2);
    expect(sum.ttfb[TTFB_ATTRS.length - 1]).toBe(1);
  });
});

describe('HealthRecorder: fallbacks', () => {
  test('a fallback is counted on the provider fallen back from, apart from its requests', () => {
    const r = new HealthRecorder();
    r.requestDone(summary({ served: false, status: 502 }));
    r.fellBack('openai-tts', AT);
    r.fellBack('openai-tts', AT);
    const [b] = r.drain();
    expect(b.counters).toMatchObject({ requests: 1, failures: 1, fallbacks: 2 });
  });

  test('fallbacks add up like every counter (bucket items, the window)', () => {
    expect(addInto({ ...emptyCounters(), fallbacks: 2 }, { ...emptyCounters(), fallbacks: 3 }).fallbacks).toBe(5);
  });
});

describe('HealthRecorder: the admission queue', () => {
  test('queue waits are a third histogram on the latency bounds, as queue_le_* attributes', () => {
    expect(QUEUE_ATTRS).toEqual(LATENCY_ATTRS.map((a) => a.replace(/^lat_/, 'queue_')));
    expect(QUEUE_ATTRS[0]).toBe('queue_le_100');
  });

  test.each<[string, Partial<RequestSummary>, { requests: number; failures: number; successes: number; queueRefused: number; queueWaitSumMs: number; waitedIn?: number }]>([
    ['never queued: nothing in the queue figures', {}, { requests: 1, successes: 1, failures: 0, queueRefused: 0, queueWaitSumMs: 0 }],
    ['waited 2.4 s, then served', { queuedMs: 2_400.4 }, { requests: 1, successes: 1, failures: 0, queueRefused: 0, queueWaitSumMs: 2_400, waitedIn: bucketOf(2_400) }],
    ['waited 11.5 s, gave up: a failure, and its wait counts', { served: false, status: 429, queuedMs: 11_500 }, { requests: 1, successes: 0, failures: 1, queueRefused: 0, queueWaitSumMs: 11_500, waitedIn: bucketOf(11_500) }],
    ['refused at once: a failure and a refusal, no wait', { served: false, status: 429, queueRefused: true }, { requests: 1, successes: 0, failures: 1, queueRefused: 1, queueWaitSumMs: 0 }],
    ['client left after 3 s in the queue: its wait only, not a request of the provider', { served: false, status: 429, queuedMs: 3_000, clientGone: true }, { requests: 0, successes: 0, failures: 0, queueRefused: 0, queueWaitSumMs: 3_000, waitedIn: bucketOf(3_000) }],
  ])('%s', (_n, over, want) => {
    const c = recorded(summary(over));
    const { waitedIn, ...counts } = want;
    expect(c).toMatchObject(counts);
    expect(c.queue.reduce((a, b) => a + b, 0)).toBe(waitedIn === undefined ? 0 : 1);
    if (waitedIn !== undefined) expect(c.queue[waitedIn]).toBe(1);
  });

  test('queue counters and histogram add up across writers (addInto)', () => {
    const a = recorded(summary({ queuedMs: 500 }), summary({ served: false, queueRefused: true }));
    const b = recorded(summary({ queuedMs: 500 }), summary({ queuedMs: 9_000 }));
    const sum = addInto(addInto(emptyCounters(), a), b);
    expect(sum).toMatchObject({ queueRefused: 1, queueWaitSumMs: 10_000 });
    expect(sum.queue[bucketOf(500)]).toBe(2);
    expect(sum.queue[bucketOf(9_000)]).toBe(1);
  });
});

describe('RequestTally: queue events into the summary', () => {
  type Ev = { waitedMs: number; outcome: 'released' | 'queue_full' | 'wait_too_long' | 'gave_up' | 'disconnected' };
  test.each<[string, Ev[], { queuedMs?: number; queueRefused?: boolean }]>([
    ['never queued', [], {}],
    ['released after 1.2 s', [{ waitedMs: 1_200, outcome: 'released' }], { queuedMs: 1_200 }],
    ['released twice (found no key after all, waited again at the head)', [{ waitedMs: 1_200, outcome: 'released' }, { waitedMs: 300, outcome: 'released' }], { queuedMs: 1_500 }],
    ['queue full on arrival: a refusal, no wait', [{ waitedMs: 0, outcome: 'queue_full' }], { queueRefused: true }],
    ['no start possible within its wait: a refusal, no wait', [{ waitedMs: 0, outcome: 'wait_too_long' }], { queueRefused: true }],
    ['gave up at its allowed wait', [{ waitedMs: 11_500, outcome: 'gave_up' }], { queuedMs: 11_500 }],
    ['client left after 2 s', [{ waitedMs: 2_000, outcome: 'disconnected' }], { queuedMs: 2_000 }],
  ])('%s', (_n, events, want) => {
    const t = new RequestTally('openai-tts');
    for (const e of events) t.queued(e);
    const s = t.summary({ served: true, status: 200, latencyMs: 1, attempts: 1, at: AT });
    expect(s.queuedMs).toBe(want.queuedMs);
    expect(s.queueRefused).toBe(want.queueRefused);
  });
});
