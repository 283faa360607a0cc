import fc from 'fast-check';
import { REDACTED, redactFields, redactKeyShapes, redactProviderText } from '../../lambda/domain';
import { FragmentIndex, FRAGMENT_LENGTH } from '../../lambda/keys/fragments';
import { KeyPools } from '../../lambda/keys/pools';
import { KeyRedactor } from '../../lambda/keys/redactor';
import { MemoryLog } from '../../lambda/observability/logger';
import { redactingLog } from '../../lambda/observability/redacting-log';

/** Canary keys in each vendor's real shape (made up: no real key). */
const KEYS = {
  openaiProject: 'sk-proj-' + 'Q7vLmZ2xTr9KpW4sNc8HbJ3yFg6DaE1uVo5iRt0MkXqP' /* built, so no key-shaped literal is committed */,
  openaiLegacy: 'sk-' + 'Zr4TbQ9wLx2NcV7mKp3JhS8dFy6GaU1eWo5iPt0RkMnBvC',
  elevenlabs: 'sk_3fa9c2e7b1d84f60a5c9e2b7d1f48a3c6e9b2d7f1a4c8e5b',
  fal: '5b7e2c1a-9d3f-7a4b-8c6d-2e9f1a3b5c7d:e4c9a2f7b1d6e3a8c5f2b9d4e7a1c6f3',
  kling: 'AKLEAKZ4Qm8TvN2pRx7WcY5hJd3Fs9Gb:KsEc4Rt7Yu1Io9Pa3Sd6Fg2Hj8Kl5Zx0Cv',
};
const ALL = Object.values(KEYS);

/** Every window of FRAGMENT_LENGTH characters of every key: none may survive redaction. */
function windowsOf(keys: readonly string[]): string[] {
  return keys.flatMap((k) => Array.from({ length: k.length - FRAGMENT_LENGTH + 1 }, (_, i) => k.slice(i, i + FRAGMENT_LENGTH)));
}
const leftovers = (text: string, keys: readonly string[] = ALL) => windowsOf(keys).filter((w) => text.includes(w));

describe('FragmentIndex: any fragment of 6 or more characters of any key', () => {
  const index = new FragmentIndex(ALL);

  test.each(ALL.map((k) => [k]))('%s: whole, head, tail, middle, each half — all removed', (key) => {
    const [a, b] = key.split(':');
    for (const piece of [key, key.slice(0, 8), key.slice(-6), key.slice(10, 17), a, b].filter((p): p is string => p !== undefined)) {
      const out = index.scrub(`before ${piece} after`);
      expect(out).toBe(`before ${REDACTED} after`);
    }
  });

  test('5 characters are not a fragment; text with no fragment comes back as it was (same string)', () => {
    const text = `masked ${KEYS.openaiLegacy.slice(3, 8)}…${KEYS.openaiLegacy.slice(-4)} at openai#1, latency 12 ms`;
    expect(index.scrub(text)).toBe(text);
  });

  test('overlapping and adjacent fragments become one marker; separate ones, one each', () => {
    const k = KEYS.kling;
    expect(index.scrub(`${k.slice(0, 9)}${k.slice(5, 20)}!`)).toBe(`${REDACTED}!`);
    expect(index.scrub(`x${k.slice(0, 7)} and ${k.slice(-7)}y`)).toBe(`x${REDACTED} and ${REDACTED}y`);
  });

  test('property: whatever surrounds it, no window of the key is left, and nothing else changes', () => {
    const alphabet = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. é€😀'.split(''));
    const text = fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.string({ minLength: 12, maxLength: 60, unit: fc.constantFrom(...'ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstuvwxyz23456789'.split('')) }), text, text, fc.nat(), fc.nat(), (key, left, right, a, b) => {
        const start = a % (key.length - FRAGMENT_LENGTH);
        const end = Math.min(key.length, start + FRAGMENT_LENGTH + (b % key.length));
        const out = new FragmentIndex([key]).scrub(`${left}${key.slice(start, end)}${right}`);
        expect(leftovers(out, [key])).toEqual([]);
        expect(out.startsWith(left.slice(0, Math.max(0, left.length - FRAGMENT_LENGTH)))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('a public word of ours inside a key is not taken for a fragment of it', () => {
    const demo = new FragmentIndex(['sk-sandbox-openai-key-1-abcdefghijklmnop'], ['openai-tts', 'openai-image', 'openai']);
    expect(demo.scrub('provider openai-tts, key openai#1')).toBe('provider openai-tts, key openai#1');
    // `openai` itself is ours, so the window ending in it is not removed: one character is left.
    expect(demo.scrub('leak: sandbox-openai')).toBe(`leak: ${REDACTED}i`);
  });
});

describe('key shapes, whoever the key belongs to', () => {
  test.each<[string, string, string]>([
    ['OpenAI project key', `key ${KEYS.openaiProject}.`, `key ${REDACTED}.`],
    ['OpenAI key masked with stars', 'Incorrect API key provided: sk-LEAKCA****N2xY.', `Incorrect API key provided: ${REDACTED}.`],
    ['OpenAI key masked with an ellipsis', 'Incorrect API key provided: sk-…abcd.', `Incorrect API key provided: ${REDACTED}.`],
    ['ElevenLabs sk_ key', `xi ${KEYS.elevenlabs}`, `xi ${REDACTED}`],
    ['a JWT (Kling bearer token)', 'token eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJBSzEifQ.c2ln end', `token ${REDACTED} end`],
    ['a bearer header value', 'Authorization: Bearer abcdefgh12345678', `Authorization: ${REDACTED}`],
    ['a fal ID:SECRET pair', `pair ${KEYS.fal}`, `pair ${REDACTED}`],
    ['a Kling ACCESS:SECRET pair', `pair ${KEYS.kling}`, `pair ${REDACTED}`],
    ['our own words stay', 'key rotated openai#1 → openai#2 (rate_limited) at 2026-11-26T05:38:24.742Z', 'key rotated openai#1 → openai#2 (rate_limited) at 2026-11-26T05:38:24.742Z'],
    ['task names stay', 'task-queue risk-free', 'task-queue risk-free'],
  ])('%s', (_name, text, expected) => {
    expect(redactKeyShapes(text)).toBe(expected);
  });

  test('provider free text also loses long key-like runs, keeps its words', () => {
    expect(redactProviderText('review failed: Zr4TbQ9wLx2NcV7mKp3JhS8d rejected')).toBe(`review failed: ${REDACTED} rejected`);
    expect(redactProviderText('The prompt did not pass the content review.')).toBe('The prompt did not pass the content review.');
  });
});

describe('KeyRedactor: the pools\' keys, as they change', () => {
  test('keys of every vendor, then a key added by a secret update, and the removed one still', () => {
    const pools = new KeyPools({ openai: [KEYS.openaiLegacy], fal: [KEYS.fal] }, () => 0);
    const r = new KeyRedactor(pools);
    expect(r.redact(`a ${KEYS.openaiLegacy.slice(5, 15)} b ${KEYS.fal.split(':')[1]}`)).toBe(`a ${REDACTED} b ${REDACTED}`);
    const later = 'sk-NEWw7Hq2Lp9Vx4Rt6Yk3Mz8Bn5Cd1';
    expect(r.redact(`x ${later.slice(2, 12)}`)).toBe(`x ${later.slice(2, 12)}`);
    pools.update({ openai: [later] });
    expect(r.redact(`x ${later.slice(2, 12)}`)).toBe(`x ${REDACTED}`);
    // A request may still hold the replaced key: it stays redacted.
    expect(r.redact(`y ${KEYS.openaiLegacy.slice(20, 30)}`)).toBe(`y ${REDACTED}`);
  });

  test('log fields: every string, however nested; numbers, key leases and structure kept', () => {
    const pools = new KeyPools({ kling: [KEYS.kling] }, () => 0);
    const r = new KeyRedactor(pools);
    const lease = pools.get('kling').leaseById('kling#1');
    const fields = { provider: 'kling-video', n: 42, ok: true, nested: { list: ['fine', `x${KEYS.kling.slice(0, 8)}`], deeper: { e: new Error(`bad ${KEYS.kling}`) } }, key: lease };
    const out = redactFields(r, fields);
    expect(JSON.stringify(out)).toBe(JSON.stringify({ provider: 'kling-video', n: 42, ok: true, nested: { list: ['fine', `x${REDACTED}`], deeper: { e: { name: 'Error', message: `bad ${REDACTED}` } } }, key: 'kling#1' }));
    expect(leftovers(JSON.stringify(out))).toEqual([]);
  });
});

test('redactingLog: every line\'s message and fields pass through the redactor before the sink', () => {
  const sink = new MemoryLog();
  const log = redactingLog(sink, new KeyRedactor(new KeyPools({ elevenlabs: [KEYS.elevenlabs] }, () => 0)));
  log.warn(`provider said ${KEYS.elevenlabs.slice(3, 20)}`, { code: KEYS.elevenlabs.slice(-8), nested: [{ m: KEYS.elevenlabs }], n: 1 });
  log.info('plain line');
  expect(sink.lines).toEqual([
    { level: 'WARN', message: `provider said ${REDACTED}`, fields: { code: REDACTED, nested: [{ m: REDACTED }], n: 1 } },
    { level: 'INFO', message: 'plain line', fields: {} },
  ]);
});
