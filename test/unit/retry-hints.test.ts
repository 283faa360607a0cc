import { parseGoDuration, parseRetryAfter, retryAfterMsFrom } from '../../lambda/providers/http/retry-hints';

const NOW = Date.parse('2026-11-26T05:30:00Z');

describe('parseGoDuration', () => {
  test.each([
    ['6m0s', 360_000],
    ['1s', 1000],
    ['12ms', 12],
    ['9ms', 9],
    ['1.5s', 1500],
    ['1h2m3.5s', 3_723_500],
    ['850ms', 850],
    ['2', 2000],
    ['0s', 0],
    ['', undefined],
    ['soon', undefined],
    ['5x', undefined],
    ['1s garbage', undefined],
  ])('%j → %j', (input, expected) => {
    expect(parseGoDuration(input)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  test.each([
    ['20', 20_000],
    ['0', 0],
    ['1.5', 1500],
    [' 7 ', 7000],
    ['Thu, 26 Nov 2026 05:30:30 GMT', 30_000],
    ['Thu, 26 Nov 2026 05:29:00 GMT', 0],
    ['-5', undefined],
    ['later', undefined],
    ['', undefined],
  ])('%j → %j', (input, expected) => {
    expect(parseRetryAfter(input, NOW)).toBe(expected);
  });
});

describe('retryAfterMsFrom: the most precise hint wins', () => {
  test.each<[Record<string, string>, number | undefined]>([
    [{ 'retry-after-ms': '1234.2', 'retry-after': '9' }, 1235],
    [{ 'retry-after': '9' }, 9000],
    [{ 'retry-after': 'Thu, 26 Nov 2026 05:31:00 GMT' }, 60_000],
    [{ 'retry-after-ms': 'nope', 'retry-after': '3' }, 3000],
    [{ 'x-ratelimit-reset-requests': '6m0s', 'x-ratelimit-remaining-requests': '0' }, 360_000],
    // Only the exhausted budget's reset counts.
    [{ 'x-ratelimit-reset-requests': '1s', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-remaining-tokens': '100' }, 1000],
    [{ 'x-ratelimit-reset-requests': '12ms' }, 12],
    [{ 'x-ratelimit-reset-requests': '1s', 'x-ratelimit-reset-tokens': '2s' }, 2000],
    [{}, undefined],
    [{ 'x-ratelimit-reset-requests': 'bogus' }, undefined],
  ])('%j → %j', (headers, expected) => {
    expect(retryAfterMsFrom(headers, NOW)).toBe(expected);
  });
});
