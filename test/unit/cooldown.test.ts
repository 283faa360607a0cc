import { cooldownFor, disableFor, DEFAULT_COOLDOWN_POLICY as P } from '../../lambda/keys/cooldown';
import { fullJitterDelay, overloadDelay } from '../../lambda/rotation/backoff';

describe('cooldownFor', () => {
  test.each<[number | undefined, number, number]>([
    [20_000, 1, 20_000], // the provider's hint
    [20_000, 5, 20_000], // hint wins over history
    [0, 1, P.minCooldownMs], // floor
    [999_999_000, 1, P.maxCooldownMs], // absurd Retry-After is capped
    [undefined, 1, P.defaultCooldownMs], // growing default
    [undefined, 2, P.defaultCooldownMs * 2],
    [undefined, 3, P.defaultCooldownMs * 4],
    [undefined, 40, P.maxCooldownMs],
    [Number.NaN, 1, P.defaultCooldownMs],
    [-5, 1, P.defaultCooldownMs],
  ])('hint %j, strikes %j → %j ms', (hint, strikes, expected) => {
    expect(cooldownFor(hint, strikes, P)).toBe(expected);
  });
});

describe('disableFor', () => {
  test.each([
    [1, P.disableMs],
    [2, P.disableMs * 2],
    [3, P.disableMs * 4],
    [50, P.maxDisableMs],
  ])('disable #%j → %j ms', (n, expected) => {
    expect(disableFor(n, P)).toBe(expected);
  });
});

describe('full-jitter backoff', () => {
  test.each([
    [0, 0.999, 199],
    [1, 0.5, 200],
    [3, 0.999, 1598],
    [10, 0.999, 3996], // capped at 4000
    [2, 0, 0],
  ])('retry %j with random %j → %j ms (base 200, cap 4000)', (retry, r, expected) => {
    expect(fullJitterDelay(retry, 200, 4000, () => r)).toBe(expected);
  });

  test('never sooner than the provider asked', () => {
    expect(overloadDelay(0, 2500, 200, 4000, () => 0.5)).toBe(2500);
    expect(overloadDelay(3, 10, 200, 4000, () => 0.5)).toBe(800);
    expect(overloadDelay(0, undefined, 200, 4000, () => 0.5)).toBe(100);
  });
});
