import { DEFAULT_SETTINGS, parseSettings } from '../../lib/settings';

const from = (ctx: Record<string, unknown>) => parseSettings((key) => ctx[key]);

describe('parseSettings (CDK context → NanobotSettings)', () => {
  it('uses the defaults when no context is given', () => {
    expect(from({})).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS).toMatchObject({ throttleRate: 25, throttleBurst: 50, rotationAlarmThreshold: 20 });
    expect(DEFAULT_SETTINGS.alarmEmail).toBeUndefined();
    // Off by default: no reserved concurrency, no usage quota.
    expect(from({})).toMatchObject({ reservedConcurrency: undefined, usageQuotaLimit: undefined, usageQuotaPeriod: undefined });
  });

  it.each([
    ['numbers from cdk.json', { throttleRate: 5, throttleBurst: 10 }, { throttleRate: 5, throttleBurst: 10 }],
    ['strings from -c', { throttleRate: '5', throttleBurst: ' 10 ' }, { throttleRate: 5, throttleBurst: 10 }],
    ['a fractional rate', { throttleRate: '2.5' }, { throttleRate: 2.5 }],
    ['an email', { alarmEmail: ' ops@example.com ' }, { alarmEmail: 'ops@example.com' }],
    ['an empty email (none)', { alarmEmail: '' }, { alarmEmail: undefined }],
    ['the rotation threshold', { rotationAlarmThreshold: '7' }, { rotationAlarmThreshold: 7 }],
    ['the failure ratio knobs', { failureRatioThreshold: '0.25', failureRatioMinRequests: 3 }, { failureRatioThreshold: 0.25, failureRatioMinRequests: 3 }],
    ['the latency threshold', { latencyP95AlarmMs: '15000' }, { latencyP95AlarmMs: 15000 }],
    ['reserved concurrency', { reservedConcurrency: '20' }, { reservedConcurrency: 20 }],
    ['an empty reserved concurrency (none)', { reservedConcurrency: '' }, { reservedConcurrency: undefined }],
    ['a usage quota', { usageQuotaLimit: '100000', usageQuotaPeriod: 'MONTH' }, { usageQuotaLimit: 100000, usageQuotaPeriod: 'MONTH' }],
    ['a lower-case quota period', { usageQuotaLimit: 500, usageQuotaPeriod: ' day ' }, { usageQuotaLimit: 500, usageQuotaPeriod: 'DAY' }],
  ])('accepts %s', (_name, ctx, expected) => {
    expect(from(ctx)).toEqual({ ...DEFAULT_SETTINGS, ...expected });
  });

  it.each([
    ['a non-numeric rate', { throttleRate: 'fast' }, /context throttleRate must be a number ≥ 1, got "fast"/],
    ['a zero rate', { throttleRate: 0 }, /context throttleRate must be a number ≥ 1/],
    ['a fractional burst', { throttleBurst: '10.5' }, /context throttleBurst must be an integer ≥ 1/],
    ['a burst below the rate', { throttleRate: 20, throttleBurst: 5 }, /throttleBurst \(5\) must be at least throttleRate \(20\)/],
    ['a ratio above 1', { failureRatioThreshold: '1.5' }, /context failureRatioThreshold must be a number between 0.01 and 1/],
    ['a negative threshold', { rotationAlarmThreshold: '-1' }, /context rotationAlarmThreshold must be an integer ≥ 1/],
    ['a malformed email', { alarmEmail: 'ops-at-example' }, /context alarmEmail must be an email address/],
    ['a zero reserved concurrency', { reservedConcurrency: '0' }, /context reservedConcurrency must be an integer ≥ 1, got "0"/],
    ['a fractional reserved concurrency', { reservedConcurrency: 2.5 }, /context reservedConcurrency must be an integer ≥ 1/],
    ['a non-numeric quota', { usageQuotaLimit: 'lots', usageQuotaPeriod: 'DAY' }, /context usageQuotaLimit must be an integer ≥ 1, got "lots"/],
    ['an unknown quota period', { usageQuotaLimit: 10, usageQuotaPeriod: 'YEAR' }, /context usageQuotaPeriod must be one of DAY, WEEK, MONTH, got "YEAR"/],
    ['a quota limit without a period', { usageQuotaLimit: 10 }, /usageQuotaLimit and usageQuotaPeriod go together/],
    ['a quota period without a limit', { usageQuotaPeriod: 'WEEK' }, /usageQuotaLimit and usageQuotaPeriod go together/],
  ])('rejects %s, naming the context key', (_name, ctx, message) => {
    expect(() => from(ctx)).toThrow(message);
  });
});
