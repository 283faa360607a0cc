import { KeyPool } from '../../lambda/keys/key-pool';
import { roomOf, KeyRoom } from '../../lambda/keys/room';
import { admit, Admission, AdmissionSettings, QueueView, releasable, startEstimate, WaitLimits } from '../../lambda/rotation/admission';
import { AdmissionQueue, QueueOutcome, QueueTimers } from '../../lambda/rotation/admission-queue';

const S: AdmissionSettings = { maxQueueWaitMs: 10_000, maxQueueLength: 3 };
const NOW = 1_000_000;
/** Keys back in `returnsInMs`, each taking `perReturn` requests. */
const view = (v: { ahead?: number; returnsInMs?: number[]; perReturn?: number; cycleMs?: number }): QueueView => ({
  ahead: v.ahead ?? 0,
  returns: (v.returnsInMs ?? [500]).map((inMs) => ({ inMs, takes: v.perReturn ?? 1 })),
  cycleMs: v.cycleMs ?? 10_000,
});
const req = (r: Partial<WaitLimits> = {}): WaitLimits => ({ now: NOW, deadline: NOW + 25_000, ...r });

describe('admit: wait with an estimate, or refuse at once with an honest Retry-After', () => {
  const cases: [string, QueueView, WaitLimits, AdmissionSettings, Admission][] = [
    ['head of an empty queue waits for the first key back', view({}), req(), S, { kind: 'wait', estimateMs: 500, giveUpMs: 10_000 }],
    ['second in line takes the second key back', view({ ahead: 1, returnsInMs: [500, 2_000] }), req(), S, { kind: 'wait', estimateMs: 2_000, giveUpMs: 10_000 }],
    ['a known budget: 5 waiters per returning key', view({ ahead: 4, returnsInMs: [500, 2_000], perReturn: 5 }), req(), { ...S, maxQueueLength: 10 }, { kind: 'wait', estimateMs: 500, giveUpMs: 10_000 }],
    ['past the first wave a key comes back once per cycle', view({ ahead: 2, returnsInMs: [500, 2_000], cycleMs: 3_000 }), req(), S, { kind: 'wait', estimateMs: 3_500, giveUpMs: 10_000 }],
    ['cannot start within MAX_QUEUE_WAIT_MS: 429 at once', view({ ahead: 2, returnsInMs: [500] }), req(), S, { kind: 'refuse', reason: 'wait_too_long', retryAfterMs: 20_500 }],
    ['the full queue answers 429 at once', view({ ahead: 3 }), req(), S, { kind: 'refuse', reason: 'queue_full', retryAfterMs: 30_500 }],
    ['x-nanobot-max-wait-ms: 0 prefers a fast 429', view({}), req({ maxWaitMs: 0 }), S, { kind: 'refuse', reason: 'wait_too_long', retryAfterMs: 500 }],
    ['the header only lowers the wait', view({}), req({ maxWaitMs: 60_000 }), S, { kind: 'wait', estimateMs: 500, giveUpMs: 10_000 }],
    ['the header lowers the give-up time', view({}), req({ maxWaitMs: 800 }), S, { kind: 'wait', estimateMs: 500, giveUpMs: 800 }],
    ['the deadline bounds the wait (an attempt still needs its time)', view({ returnsInMs: [3_000] }), req({ deadline: NOW + 3_100 }), S, { kind: 'refuse', reason: 'wait_too_long', retryAfterMs: 3_000 }],
    ['no key will come back: refused, Retry-After the queue wait', view({ returnsInMs: [] }), req(), S, { kind: 'refuse', reason: 'wait_too_long', retryAfterMs: 10_000 }],
  ];
  test.each(cases)('%s', (_, q, r, s, want) => expect(admit(q, r, s)).toEqual(want));

  test('estimates grow with position and never go down', () => {
    const q = view({ returnsInMs: [100, 900, 4_000], perReturn: 2, cycleMs: 5_000 });
    const est = Array.from({ length: 12 }, (_, p) => startEstimate(q, p));
    expect(est).toEqual([100, 100, 900, 900, 4_000, 4_000, 5_100, 5_100, 5_900, 5_900, 9_000, 9_000]);
  });

  test('a probe out on a key of unknown budget: everyone behind it may follow once it answers', () => {
    const q = { returns: [{ inMs: 0, takes: Number.POSITIVE_INFINITY }, { inMs: 3_000, takes: 1 }], cycleMs: 5_000 };
    expect([0, 1, 50].map((p) => startEstimate(q, p))).toEqual([0, 0, 0]);
  });

  test('keys of mixed budgets are taken in the order they come back', () => {
    const q = { returns: [{ inMs: 200, takes: 1 }, { inMs: 700, takes: 3 }], cycleMs: 1_000 };
    expect([0, 1, 3, 4, 5].map((p) => startEstimate(q, p))).toEqual([200, 700, 700, 1_200, 1_700]);
  });
});

describe('room: never more waiters released than the keys can take', () => {
  const k = (r: Partial<KeyRoom>): KeyRoom => ({ probe: false, probeOutUntil: 0, inFlight: 0, ...r });
  const cases: [string, KeyRoom[], number, number][] = [
    ['a returning key with no known budget: one probe first', [k({ probe: true })], 10, 1],
    ['its probe out: none', [k({ probe: true, probeOutUntil: NOW })], 10, 0],
    ['a proven key with no known budget: the rest', [k({})], 10, 10],
    ['a known budget: that many', [k({ budget: 3 })], 10, 3],
    ['budgets add up across keys', [k({ budget: 3 }), k({ budget: 4 })], 10, 7],
    ['concurrency: the free slots', [k({ maxInFlight: 2, inFlight: 1 }), k({ maxInFlight: 2, inFlight: 2 })], 10, 1],
    ['the smaller of budget and concurrency', [k({ budget: 1, maxInFlight: 5 })], 10, 1],
    ['never more than are waiting', [k({ budget: 30 })], 4, 4],
  ];
  test.each(cases)('%s', (_, keys, waiting, want) => expect(releasable(keys, waiting)).toBe(want));
  test('a spent budget has no room', () => expect(roomOf(k({ budget: 0 }))).toBe(0));
});

/** Timers on a fake clock: they run only when the test advances time. */
function fakeTime() {
  let now = NOW;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: QueueTimers = {
    set: (fn, ms) => {
      pending.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clear: (h) => void pending.delete(h as number),
  };
  const advance = async (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...pending].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].fn();
      await flush();
    }
    now = end;
    await flush();
  };
  return { clock: () => now, timers, advance, pending: () => [...pending.values()].map((t) => t.at - now) };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function rig(keys: number, settings: AdmissionSettings = { maxQueueWaitMs: 20_000, maxQueueLength: 10 }, fleet?: (pool: KeyPool) => Promise<void>) {
  const t = fakeTime();
  const pool = new KeyPool('openai', Array.from({ length: keys }, (_, i) => `sk-adm-${i + 1}`), t.clock);
  const queue = new AdmissionQueue(pool, settings, t.clock, t.timers, fleet && (() => fleet(pool)));
  const outcomes: [string, QueueOutcome][] = [];
  const join = (name: string, r: { maxWaitMs?: number; signal?: AbortSignal } = {}) =>
    queue.wait('openai-speech', { deadline: t.clock() + 25_000, ...r }).then((o) => void outcomes.push([name, o]));
  const lease = (id: string) => pool.leaseById(id)!;
  return { t, pool, queue, outcomes, join, lease, released: () => outcomes.filter(([, o]) => o.kind === 'released').map(([n]) => n) };
}

describe('AdmissionQueue on a fake clock', () => {
  test('released in arrival order when the key comes back, probe first, then the rest once it succeeds', async () => {
    const r = rig(1);
    r.pool.pick('openai-speech');
    r.pool.markRateLimited(r.lease('openai#1'), 5_000);
    r.pool.settle(r.lease('openai#1'));
    for (const n of ['a', 'b', 'c']) void r.join(n);
    await flush();
    expect(r.queue.length).toBe(3);
    // One timer, at the instant the key is back: no polling.
    expect(r.t.pending().filter((ms) => ms === 5_000)).toHaveLength(1);
    await r.t.advance(4_999);
    expect(r.released()).toEqual([]);
    await r.t.advance(1);
    expect(r.released()).toEqual(['a']); // the probe
    const p = r.pool.pick('openai-speech');
    expect(p.kind).toBe('key');
    if (p.kind !== 'key') return;
    r.pool.markOk(p.lease, 'openai-speech');
    r.pool.settle(p.lease);
    await flush();
    expect(r.released()).toEqual(['a', 'b', 'c']);
    expect(r.queue.length).toBe(0);
  });

  test('a known budget: after the returning key\'s probe, as many as its answer says are left, at once, no more', async () => {
    const r = rig(1);
    const p = r.pool.pick('openai-speech');
    if (p.kind !== 'key') throw new Error('no key');
    r.pool.noteRoom(p.lease, { remaining: 0, limit: 3 });
    r.pool.markBudgetSpent(p.lease, 10_000);
    r.pool.settle(p.lease);
    for (const n of ['a', 'b', 'c', 'd', 'e']) void r.join(n);
    await flush();
    await r.t.advance(10_000);
    expect(r.released()).toEqual(['a']); // the probe: how much of the budget refilled, its answer says
    const probe = r.pool.pick('openai-speech');
    if (probe.kind !== 'key') throw new Error('no key');
    r.pool.noteRoom(probe.lease, { remaining: 2, limit: 3 });
    r.pool.markOk(probe.lease, 'openai-speech');
    r.pool.settle(probe.lease);
    await flush();
    expect(r.released()).toEqual(['a', 'b', 'c']); // 2 left in the budget: 2 more, not all 4
    expect(r.queue.length).toBe(2);
  });

  test('a streamed answer that rests its key wakes the queue at the rest\'s end, whether or not its body has ended', async () => {
    const r = rig(1);
    const p = r.pool.pick('openai-speech'); // the fresh key's probe is out
    if (p.kind !== 'key') throw new Error('no key');
    void r.join('a');
    void r.join('b');
    await flush();
    expect(r.released()).toEqual([]);
    // The rotation loop's order for a streamed answer: its room, settled (body still sending), then its marks.
    r.pool.noteRoom(p.lease, { remaining: 0, limit: 1 });
    r.pool.settle(p.lease, true);
    r.pool.markOk(p.lease, 'openai-speech');
    r.pool.markBudgetSpent(p.lease, 1_000);
    await flush();
    // Its body is still streaming to a slow client (`finished` not called): the rest's end alone releases the next probe.
    expect(r.t.pending().filter((ms) => ms === 1_000)).toHaveLength(1);
    await r.t.advance(1_000);
    expect(r.released()).toEqual(['a']);
  });

  test('a full queue refuses at once; a wait the estimate cannot honour is refused at once', async () => {
    const r = rig(1, { maxQueueWaitMs: 20_000, maxQueueLength: 2 });
    r.pool.markRateLimited(r.lease('openai#1'), 5_000);
    void r.join('a');
    void r.join('b');
    void r.join('c');
    void r.join('fast', { maxWaitMs: 0 });
    await flush();
    expect(r.outcomes).toEqual([
      ['c', { kind: 'refused', reason: 'queue_full', retryAfterMs: 5_000 + 2 * 5_000, waitedMs: 0 }],
      ['fast', { kind: 'refused', reason: 'queue_full', retryAfterMs: 15_000, waitedMs: 0 }],
    ]);
  });

  test('x-nanobot-max-wait-ms 0 with room in the queue: a 429 at once, Retry-After the time to the key', async () => {
    const r = rig(1);
    r.pool.markRateLimited(r.lease('openai#1'), 5_000);
    void r.join('fast', { maxWaitMs: 0 });
    await flush();
    expect(r.outcomes).toEqual([['fast', { kind: 'refused', reason: 'wait_too_long', retryAfterMs: 5_000, waitedMs: 0 }]]);
    expect(r.queue.length).toBe(0);
  });

  test('a client that disconnects leaves the queue; the one behind it takes its place', async () => {
    const r = rig(1);
    r.pool.markRateLimited(r.lease('openai#1'), 5_000);
    const gone = new AbortController();
    void r.join('a', { signal: gone.signal });
    void r.join('b');
    await flush();
    await r.t.advance(1_000);
    gone.abort();
    await flush();
    expect(r.queue.length).toBe(1);
    expect(r.outcomes[0]).toEqual(['a', { kind: 'refused', reason: 'disconnected', retryAfterMs: 4_000, waitedMs: 1_000 }]);
    await r.t.advance(4_000);
    expect(r.released()).toEqual(['b']);
  });

  test('a waiter not released within its allowed wait gives up with a 429', async () => {
    const r = rig(1);
    r.pool.markRateLimited(r.lease('openai#1'), 5_000);
    void r.join('a');
    void r.join('b', { maxWaitMs: 12_000 }); // estimated 10 s: the key's next cycle
    await flush();
    await r.t.advance(5_000); // a takes the probe; b waits for it to prove the key, which never answers
    expect(r.released()).toEqual(['a']);
    await r.t.advance(7_000);
    expect(r.outcomes[1]).toEqual(['b', expect.objectContaining({ kind: 'refused', reason: 'gave_up', waitedMs: 12_000 })]);
    expect(r.queue.length).toBe(0);
  });

  test('concurrency: a key at its limit takes no more; a settled attempt releases exactly one', async () => {
    const r = rig(1);
    const a = r.pool.pick('openai-speech');
    if (a.kind !== 'key') throw new Error('no key');
    expect(r.pool.pick('openai-speech').kind).toBe('wait'); // a fresh key: one probe first
    r.pool.noteRoom(a.lease, { maxInFlight: 2 }); // its answer says: 2 at a time
    r.pool.markOk(a.lease);
    const b = r.pool.pick('openai-speech');
    if (b.kind !== 'key') throw new Error('no key');
    expect(r.pool.pick('openai-speech').kind).toBe('wait'); // both slots taken: no third call upstream
    r.pool.settle(a.lease);
    // (the slot freed by a's settle went straight to the pick below, as a queued request would)
    expect(r.pool.pick('openai-speech').kind).toBe('key');
    for (const n of ['x', 'y']) void r.join(n);
    await flush();
    expect(r.released()).toEqual([]);
    r.pool.settle(b.lease);
    await flush();
    expect(r.released()).toEqual(['x']);
  });

  test('fleet: a key the fleet learnt is cooling longer gets no waiters when its local cooldown ends', async () => {
    let fleetUntil = 0;
    const r = rig(1, undefined, async (pool) => {
      // What another container published: the key cools until `fleetUntil`.
      if (fleetUntil) pool.applyExternal('openai#1', 'cooling', fleetUntil, 'rate_limited');
    });
    r.pool.markRateLimited(r.lease('openai#1'), 5_000);
    void r.join('a', { maxWaitMs: 19_000 });
    await flush();
    fleetUntil = r.t.clock() + 8_000;
    await r.t.advance(5_000);
    expect(r.released()).toEqual([]); // the fleet said 8 s: not released onto a key cooling elsewhere
    await r.t.advance(2_999);
    expect(r.released()).toEqual([]);
    await r.t.advance(1);
    expect(r.released()).toEqual(['a']);
  });

  test('a budget counted down by picks whose answers said nothing (transport errors) is probed again, not left stuck', () => {
    const r = rig(1);
    const a = r.pool.pick('openai-speech');
    if (a.kind !== 'key') throw new Error('no key');
    r.pool.noteRoom(a.lease, { remaining: 1, limit: 3 });
    r.pool.markOk(a.lease);
    r.pool.settle(a.lease);
    const b = r.pool.pick('openai-speech'); // takes the last of the known budget
    if (b.kind !== 'key') throw new Error('no key');
    expect(r.pool.pick('openai-speech').kind).toBe('wait');
    r.pool.settle(b.lease); // its answer never came (no headers to learn from)
    expect(r.pool.pick('openai-speech').kind).toBe('key'); // one probe
    expect(r.pool.pick('openai-speech').kind).toBe('wait');
  });
});
