import { KeyProbe, RawAnswer, TransportError, UpstreamRequest } from '../../lambda/domain';
import type { KeyHealth, KeyHealthStore } from '../../lambda/health/key-health';
import { KeyPool } from '../../lambda/keys/key-pool';
import { KeyPools } from '../../lambda/keys/pools';
import { DEFAULT_COOLDOWN_POLICY } from '../../lambda/keys/cooldown';
import { MemoryLog } from '../../lambda/observability/logger';
import { ProbeRunner } from '../../lambda/probes/run';
import { classifyOpenAI } from '../../lambda/providers/openai/classify';

/** KeyPool.reenable: the one way a disable ends before its deadline, ordered by time. */
describe('KeyPool.reenable', () => {
  let now = 1_000_000;
  const clock = () => now;
  const fp = (pool: KeyPool, i: number) => pool.view()[i].fingerprint;

  it('lifts a disable learnt before the probe started: usable at once, history forgotten', () => {
    const pool = new KeyPool('openai', ['sk-a', 'sk-b'], clock);
    const a = pool.leaseById('openai#1')!;
    pool.markDisabled(a, 'invalid_key');
    now += 10;
    expect(pool.reenable(fp(pool, 0), now)).toBe(true);
    expect(pool.counts()).toEqual({ total: 2, available: 2, cooling: 0, disabled: 0 });
    const picks = [pool.pick(), pool.pick()].map((p) => (p.kind === 'key' ? p.lease.id : p.kind));
    expect(picks.sort()).toEqual(['openai#1', 'openai#2']);
    // The next disable starts again from the first interval (not doubled).
    expect(pool.markDisabled(a, 'invalid_key')).toBe(DEFAULT_COOLDOWN_POLICY.disableMs);
  });

  it('a disable learnt after the probe started (newer news) stands; a cooling key stays cooling', () => {
    const pool = new KeyPool('openai', ['sk-a', 'sk-b'], clock);
    const probeStart = now;
    now += 5;
    pool.markDisabled(pool.leaseById('openai#1')!, 'quota_exhausted');
    expect(pool.reenable(fp(pool, 0), probeStart)).toBe(false);
    pool.markRateLimited(pool.leaseById('openai#2')!, 5_000);
    expect(pool.reenable(fp(pool, 1), now + 1)).toBe(false);
    expect(pool.counts()).toMatchObject({ disabled: 1, cooling: 1 });
  });

  it('a fleet disable keeps the time it was learnt there, not when this instance read it', () => {
    const pool = new KeyPool('openai', ['sk-a'], clock);
    const learntAt = now - 60_000;
    pool.applyExternalByFingerprint(fp(pool, 0), 'disabled', now + 3_600_000, 'invalid_key', learntAt);
    // A probe that started after the fleet learnt it, even before this instance applied it, lifts it.
    expect(pool.reenable(fp(pool, 0), learntAt + 1)).toBe(true);
  });
});

describe('ProbeRunner', () => {
  let now = 0;
  const clock = () => now;
  const sleep = async (ms: number) => {
    now += ms;
  };
  const store = () => {
    const items = new Map<string, KeyHealth>();
    return {
      items,
      read: async () => [...items.values()],
      put: async (h: KeyHealth) => void items.set(h.fingerprint, h),
    };
  };
  const answer = (status: number, body: unknown = {}): RawAnswer => ({ status, headers: {}, body, raw: Buffer.alloc(0) });
  const probe = (spacingMs = 0): KeyProbe => ({
    route: 'GET /v1/models',
    spacingMs,
    request: (key) => ({ method: 'GET', url: `https://x/models?k=${key.id}`, headers: {} }),
    classify: classifyOpenAI,
    notVisible: () => false,
    read: () => ({ exhausted: false }),
  });

  function setup(secrets: string[], script: (req: UpstreamRequest) => RawAnswer | 'timeout', spacingMs = 0, budgetMs = 20_000) {
    const calls: { url: string; at: number }[] = [];
    const pools = new KeyPools({ openai: secrets }, clock);
    const s = store();
    const log = new MemoryLog();
    const send = async (req: UpstreamRequest) => {
      calls.push({ url: req.url, at: now });
      now += 50;
      const r = script(req);
      if (r === 'timeout') throw new TransportError(true, true, 'timeout');
      return r;
    };
    const transport = { send, open: send };
    const runner = new ProbeRunner([{ vendor: 'openai', probe: probe(spacingMs) }], { pools, store: s as unknown as KeyHealthStore, transport, clock, sleep, log }, { timeoutMs: 5_000, budgetMs });
    return { runner, calls, pools, s, log };
  }

  it('probes every key once, a vendor at the spacing its route allows, within the run', async () => {
    now = 0;
    const { runner, calls } = setup(['sk-a', 'sk-b', 'sk-c'], () => answer(200, { data: [] }), 1_100);
    const r = await runner.run();
    expect(calls.map((c) => c.url)).toEqual(['https://x/models?k=openai#1', 'https://x/models?k=openai#2', 'https://x/models?k=openai#3']);
    expect(calls.map((c) => c.at)).toEqual([0, 1_100, 2_200]);
    expect(r.vendors[0]).toMatchObject({ total: 3, skipped: 0, storeErrors: 0 });
    expect(r.failed).toBe(false);
    // The spacing holds across runs too.
    const again = calls.length;
    await runner.run();
    expect(calls[again].at - calls[again - 1].at).toBeGreaterThanOrEqual(1_100);
  });

  it('the budget bounds the run; keys left over go first next time (least recently probed first)', async () => {
    now = Date.parse('2026-12-01T12:00:00Z');
    const { runner, calls } = setup(['sk-a', 'sk-b', 'sk-c'], () => answer(200, { data: [] }), 1_100, 2_000);
    const first = await runner.run();
    expect(first.vendors[0]).toMatchObject({ skipped: 1 });
    expect(first.durationMs).toBeLessThanOrEqual(2_000);
    now += 60_000;
    await runner.run();
    expect(calls.slice(2).map((c) => c.url)[0]).toBe('https://x/models?k=openai#3');
  });

  it('runs never overlap: a run asked for while one is going joins it', async () => {
    now = 0;
    const { runner, calls } = setup(['sk-a'], () => answer(200, { data: [] }));
    const [a, b] = await Promise.all([runner.run(), runner.run()]);
    expect(a).toBe(b);
    expect(calls).toHaveLength(1);
  });

  it('a run where no probe got an answer has failed (the alarm counts those); an invalid key is disabled and logged once', async () => {
    now = 0;
    const down = setup(['sk-a', 'sk-b'], () => 'timeout');
    expect((await down.runner.run()).failed).toBe(true);
    const bad = setup(['sk-a', 'sk-b'], (req) => (req.url.endsWith('#1') ? answer(401, { error: { code: 'invalid_api_key' } }) : answer(200, { data: [] })));
    await bad.runner.run();
    await bad.runner.run();
    expect(bad.pools.get('openai').counts()).toMatchObject({ disabled: 1 });
    expect(bad.s.items.size).toBe(2);
    expect(bad.log.lines.filter((l) => l.message === 'key probe failed')).toHaveLength(1);
    expect(bad.log.lines.filter((l) => l.message === 'key disabled by probe')).toHaveLength(1);
    expect(JSON.stringify(bad.log.lines)).not.toContain('sk-a');
  });
});
