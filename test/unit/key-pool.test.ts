import { inspect } from 'node:util';
import { KeyPool } from '../../lambda/keys/key-pool';
import { fingerprintOf } from '../../lambda/keys/key-lease';
import { DEFAULT_COOLDOWN_POLICY } from '../../lambda/keys/cooldown';

function poolOf(n: number, prefix = 'sk-test-') {
  let now = 1_000_000;
  const clock = () => now;
  const pool = new KeyPool('openai', Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`), clock);
  return { pool, advance: (ms: number) => (now += ms), now: () => now };
}

function ids(pool: KeyPool, picks: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < picks; i++) {
    const p = pool.pick();
    out.push(p.kind === 'key' ? p.lease.id : p.kind);
  }
  return out;
}

function lease(pool: KeyPool, id: string) {
  const l = pool.leaseById(id);
  if (!l) throw new Error(`no ${id}`);
  return l;
}

describe('KeyPool', () => {
  test('public ids are <vendor>#<position>, fingerprints are short hashes', () => {
    const { pool } = poolOf(2);
    expect(pool.view().map((k) => k.id)).toEqual(['openai#1', 'openai#2']);
    expect(pool.view()[0].fingerprint).toBe(fingerprintOf('sk-test-1'));
    expect(pool.view()[0].fingerprint).toMatch(/^[0-9a-f]{8}$/);
  });

  test('round-robin over usable keys', () => {
    const { pool } = poolOf(3);
    expect(ids(pool, 7)).toEqual(['openai#1', 'openai#2', 'openai#3', 'openai#1', 'openai#2', 'openai#3', 'openai#1']);
  });

  test('a cooling key is skipped until its cooldown ends, then rejoins', () => {
    const { pool, advance } = poolOf(3);
    pool.markRateLimited(lease(pool, 'openai#2'), 10_000);
    expect(ids(pool, 4)).toEqual(['openai#1', 'openai#3', 'openai#1', 'openai#3']);
    expect(pool.counts()).toEqual({ total: 3, available: 2, cooling: 1, disabled: 0 });
    advance(9_999);
    expect(ids(pool, 2)).not.toContain('openai#2');
    advance(1);
    expect(ids(pool, 3).sort()).toEqual(['openai#1', 'openai#2', 'openai#3']);
    expect(pool.counts().cooling).toBe(0);
  });

  test('every key cooling → wait for the earliest; none configured → none', () => {
    const { pool, advance } = poolOf(2);
    pool.markRateLimited(lease(pool, 'openai#1'), 30_000);
    pool.markRateLimited(lease(pool, 'openai#2'), 12_000);
    expect(pool.pick()).toEqual({ kind: 'wait', waitMs: 12_000 });
    advance(2_000);
    expect(pool.pick()).toEqual({ kind: 'wait', waitMs: 10_000 });
    expect(new KeyPool('fal', [], () => 0).pick()).toEqual({ kind: 'none' });
  });

  test('a cooldown only ever extends', () => {
    const { pool, advance } = poolOf(1);
    const k = lease(pool, 'openai#1');
    pool.markRateLimited(k, 20_000);
    expect(pool.markRateLimited(k, 5_000)).toBe(20_000);
    advance(6_000);
    expect(pool.pick()).toEqual({ kind: 'wait', waitMs: 14_000 });
    pool.markRateLimited(k, 30_000);
    expect(pool.pick()).toEqual({ kind: 'wait', waitMs: 30_000 });
  });

  test('no hint → a default cooldown that grows with consecutive 429s and resets on success', () => {
    const { pool, advance } = poolOf(1);
    const k = lease(pool, 'openai#1');
    const d = DEFAULT_COOLDOWN_POLICY.defaultCooldownMs;
    expect(pool.markRateLimited(k)).toBe(d);
    advance(d);
    expect(pool.markRateLimited(k)).toBe(2 * d);
    advance(2 * d);
    pool.markOk(k);
    expect(pool.markRateLimited(k)).toBe(d);
  });

  test('disabled keys stay out for the long interval, across all providers of the vendor, and all-disabled is none', () => {
    const { pool, advance } = poolOf(2);
    pool.markDisabled(lease(pool, 'openai#1'), 'quota_exhausted');
    expect(ids(pool, 3)).toEqual(['openai#2', 'openai#2', 'openai#2']);
    pool.markDisabled(lease(pool, 'openai#2'), 'invalid_key');
    expect(pool.pick()).toEqual({ kind: 'none' });
    expect(pool.counts()).toEqual({ total: 2, available: 0, cooling: 0, disabled: 2 });
    expect(pool.view()[0]).toMatchObject({ state: 'disabled', reason: 'quota_exhausted' });
    advance(DEFAULT_COOLDOWN_POLICY.disableMs - 1);
    expect(pool.pick()).toEqual({ kind: 'none' });
    advance(1);
    // Re-probe: back in rotation; failing again doubles the interval.
    expect(ids(pool, 1)).toEqual(['openai#1']);
    expect(pool.markDisabled(lease(pool, 'openai#1'), 'quota_exhausted')).toBe(2 * DEFAULT_COOLDOWN_POLICY.disableMs);
  });

  test('a spent budget rests the key without a strike, only ever extending, never over a disable', () => {
    const { pool, advance } = poolOf(2);
    const k = lease(pool, 'openai#1');
    expect(pool.markBudgetSpent(k, 8_000)).toBe(8_000);
    expect(pool.markBudgetSpent(k, 2_000)).toBe(0);
    expect(ids(pool, 2)).toEqual(['openai#2', 'openai#2']);
    advance(8_000);
    // No strike was counted: the next hint-less 429 gets the first default cooldown.
    expect(pool.markRateLimited(k)).toBe(DEFAULT_COOLDOWN_POLICY.defaultCooldownMs);
    const other = lease(pool, 'openai#2');
    pool.markDisabled(other, 'invalid_key');
    expect(pool.markBudgetSpent(other, 1_000)).toBe(0);
    expect(pool.view()[1].state).toBe('disabled');
  });

  test('a rate limit does not shorten a disable', () => {
    const { pool } = poolOf(1);
    const k = lease(pool, 'openai#1');
    pool.markDisabled(k, 'invalid_key');
    pool.markRateLimited(k, 1000);
    expect(pool.view()[0].state).toBe('disabled');
  });

  test('external knowledge only extends', () => {
    const { pool, now } = poolOf(2);
    expect(pool.applyExternal('openai#1', 'cooling', now() + 5000, 'rate_limited')).toBe(true);
    expect(pool.applyExternal('openai#1', 'cooling', now() + 1000, 'rate_limited')).toBe(false);
    expect(pool.applyExternal('openai#1', 'cooling', now() - 1, 'rate_limited')).toBe(false);
    expect(pool.applyExternal('openai#9', 'cooling', now() + 5000, 'rate_limited')).toBe(false);
    expect(ids(pool, 2)).toEqual(['openai#2', 'openai#2']);
  });

  test('fair under churn: with half the keys cooling, picks spread evenly over the rest', () => {
    const { pool, advance } = poolOf(10);
    for (let i = 1; i <= 10; i += 2) pool.markRateLimited(lease(pool, `openai#${i}`), 1_000);
    const counts = new Map<string, number>();
    for (const id of ids(pool, 1000)) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['openai#10', 'openai#2', 'openai#4', 'openai#6', 'openai#8']);
    expect([...counts.values()]).toEqual([200, 200, 200, 200, 200]);
    advance(1_000);
    expect(new Set(ids(pool, 10)).size).toBe(10);
  });

  test('no raw key in JSON or inspect output of a lease or pool view', () => {
    const { pool } = poolOf(2, 'sk-supersecret-');
    const p = pool.pick();
    const text = JSON.stringify({ p, view: pool.view() }) + inspect(p, { depth: 5 }) + inspect(pool, { depth: 5 });
    expect(text).not.toContain('sk-supersecret-');
    expect(p.kind === 'key' && p.lease.secret()).toBe('sk-supersecret-1');
  });
});

describe('KeyPool.rebuilt (keys changed in the secret)', () => {
  test('keeps cooling and disabled state of keys that stay, under their new ids', () => {
    const { pool, now } = poolOf(3);
    pool.markRateLimited(lease(pool, 'openai#2'), 30_000);
    pool.markDisabled(lease(pool, 'openai#3'), 'quota_exhausted');
    expect(pool.holds(['sk-test-1', 'sk-test-2', 'sk-test-3'])).toBe(true);
    const next = pool.rebuilt(['sk-test-3', 'sk-new', 'sk-test-2']);
    expect(next.holds(['sk-test-3', 'sk-new', 'sk-test-2'])).toBe(true);
    expect(next.view().map((k) => [k.id, k.state, k.until])).toEqual([
      ['openai#1', 'disabled', now() + DEFAULT_COOLDOWN_POLICY.disableMs],
      ['openai#2', 'usable', undefined],
      ['openai#3', 'cooling', now() + 30_000],
    ]);
    expect(ids(next, 2)).toEqual(['openai#2', 'openai#2']);
  });
});

test('concurrent 429s on one key count one strike: the default cooldown does not explode', () => {
  let now = 0;
  const pool = new KeyPool('elevenlabs', ['k1', 'k2'], () => now);
  const k = pool.leaseById('elevenlabs#1')!;
  for (let i = 0; i < 4; i++) pool.markRateLimited(k);
  expect(pool.view()[0].until).toBe(DEFAULT_COOLDOWN_POLICY.defaultCooldownMs);
  now = DEFAULT_COOLDOWN_POLICY.defaultCooldownMs;
  // A 429 after the key came back is a real second strike.
  expect(pool.markRateLimited(k)).toBe(2 * DEFAULT_COOLDOWN_POLICY.defaultCooldownMs);
});

describe('KeyPool: a key kept out of one provider (refused access there)', () => {
  const D = DEFAULT_COOLDOWN_POLICY.disableMs;
  const tts = 'openai-tts';
  const img = 'openai-image';
  const picks = (pool: KeyPool, provider: string, n: number) =>
    Array.from({ length: n }, () => {
      const p = pool.pick(provider);
      return p.kind === 'key' ? p.lease.id : p.kind;
    });

  test('skipped for that provider only; the other provider keeps its round-robin over all keys', () => {
    const { pool } = poolOf(3);
    expect(pool.markForbidden(lease(pool, 'openai#2'), tts, '401:missing_scope')).toEqual({ forMs: D, everyKey: false });
    expect(picks(pool, tts, 4)).toEqual(['openai#1', 'openai#3', 'openai#1', 'openai#3']);
    expect(picks(pool, img, 3)).toEqual(['openai#1', 'openai#2', 'openai#3']);
    expect(pool.counts(tts)).toEqual({ total: 3, available: 2, cooling: 0, disabled: 1 });
    expect(pool.counts(img)).toEqual({ total: 3, available: 3, cooling: 0, disabled: 0 });
    expect(pool.counts()).toEqual({ total: 3, available: 3, cooling: 0, disabled: 0 });
    expect(pool.view()[1]).toMatchObject({ state: 'usable', forbidden: { [tts]: expect.any(Number) } });
  });

  test('back after the disable interval; refused again, out twice as long; serving the provider resets that', () => {
    const { pool, advance } = poolOf(2);
    const k = lease(pool, 'openai#1');
    pool.markForbidden(k, tts, '403:model_not_found');
    advance(D - 1);
    expect(picks(pool, tts, 2)).toEqual(['openai#2', 'openai#2']);
    advance(1);
    expect(picks(pool, tts, 2).sort()).toEqual(['openai#1', 'openai#2']);
    expect(pool.markForbidden(k, tts, '403:model_not_found').forMs).toBe(2 * D);
    advance(2 * D);
    pool.markOk(k, tts);
    expect(pool.markForbidden(k, tts, '403:model_not_found').forMs).toBe(D);
  });

  test('concurrent refusals of one key count once', () => {
    const { pool, advance } = poolOf(2);
    const k = lease(pool, 'openai#1');
    pool.markForbidden(k, tts, '401:missing_scope');
    advance(10);
    expect(pool.markForbidden(k, tts, '401:missing_scope')).toEqual({ forMs: D - 10, everyKey: false });
  });

  test('every key that can answer refused the same way: the request is at fault, every key is let back', () => {
    const { pool } = poolOf(3);
    pool.markDisabled(lease(pool, 'openai#3'), 'invalid_key');
    expect(pool.markForbidden(lease(pool, 'openai#1'), tts, '403:model_not_found').everyKey).toBe(false);
    expect(pool.markForbidden(lease(pool, 'openai#2'), tts, '403:model_not_found')).toEqual({ forMs: 0, everyKey: true });
    expect(picks(pool, tts, 2)).toEqual(['openai#1', 'openai#2']);
    expect(pool.counts(tts)).toEqual({ total: 3, available: 2, cooling: 0, disabled: 1 });
  });

  test('refusals of different kinds are the keys\': they stay out, and the provider has no key', () => {
    const { pool } = poolOf(2);
    pool.markForbidden(lease(pool, 'openai#1'), tts, '401:missing_scope');
    expect(pool.markForbidden(lease(pool, 'openai#2'), tts, '403:model_not_found').everyKey).toBe(false);
    expect(pool.pick(tts)).toEqual({ kind: 'none' });
    expect(pool.nextUsableInMs(tts)).toBeUndefined();
    expect(pool.pick(img)).toMatchObject({ kind: 'key' });
  });

  test('kept out of one provider and cooling for the vendor: each ends on its own clock', () => {
    const { pool, advance } = poolOf(2);
    const k = lease(pool, 'openai#1');
    pool.markForbidden(k, tts, '401:missing_scope');
    pool.markRateLimited(k, 10_000);
    pool.markRateLimited(lease(pool, 'openai#2'), 20_000);
    // For tts the forbidden key is no help: the wait is for the other one.
    expect(pool.pick(tts)).toEqual({ kind: 'wait', waitMs: 20_000 });
    expect(pool.pick(img)).toEqual({ kind: 'wait', waitMs: 10_000 });
    advance(10_000);
    expect(picks(pool, img, 1)).toEqual(['openai#1']);
    expect(pool.pick(tts)).toEqual({ kind: 'wait', waitMs: 10_000 });
    advance(D);
    expect(picks(pool, tts, 2).sort()).toEqual(['openai#1', 'openai#2']);
  });

  test('an exclusion ending while the key cools: back only when the cooldown ends too', () => {
    const { pool, advance } = poolOf(1);
    const k = lease(pool, 'openai#1');
    pool.markForbidden(k, tts, '401:missing_scope');
    advance(D - 1_000);
    pool.markRateLimited(k, 5_000);
    advance(1_000);
    expect(pool.pick(tts)).toEqual({ kind: 'wait', waitMs: 4_000 });
    advance(4_000);
    expect(picks(pool, tts, 1)).toEqual(['openai#1']);
  });

  test('a rebuilt pool (secret updated) keeps the exclusion under the key\'s new id', () => {
    const { pool } = poolOf(2);
    pool.markForbidden(lease(pool, 'openai#1'), tts, '401:missing_scope');
    const next = pool.rebuilt(['sk-test-new', 'sk-test-1']);
    expect(picks(next, tts, 2)).toEqual(['openai#1', 'openai#1']);
    expect(next.view()[1]).toMatchObject({ id: 'openai#2', forbidden: { [tts]: expect.any(Number) } });
  });

  test('1000 keys, half kept out of one provider: 200 k picks for it, each a key it may use', () => {
    let now = 0;
    const pool = new KeyPool('openai', Array.from({ length: 1000 }, (_, i) => `sk-bench-${i}`), () => now);
    for (let i = 1; i <= 1000; i += 2) pool.markForbidden(pool.leaseById(`openai#${i}`)!, tts, '401:missing_scope');
    for (let i = 0; i < 200_000; i++) {
      now += 1;
      const p = pool.pick(tts);
      if (p.kind !== 'key' || Number(p.lease.id.split('#')[1]) % 2 !== 0) throw new Error(`pick ${i}: ${JSON.stringify(p)}`);
    }
    expect(pool.counts(tts)).toMatchObject({ available: 500, disabled: 500 });
  });
});
