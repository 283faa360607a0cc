import { Match } from 'aws-cdk-lib/assertions';
import { Synthesized, synthNanobot } from './synth';

/** The optional deploy-time settings, off by default and on when given as `-c key=value` strings. */
describe('optional deploy settings', () => {
  let off: Synthesized;
  let on: Synthesized;
  beforeAll(() => {
    off = synthNanobot();
    on = synthNanobot({ context: { reservedConcurrency: '20', usageQuotaLimit: '100000', usageQuotaPeriod: 'month' } });
  });

  it('reservedConcurrency: unset reserves nothing', () => {
    off.template.resourceCountIs('AWS::Lambda::Function', 2);
    for (const name of ['nanobot', 'nanobot-probe']) {
      off.template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: name, ReservedConcurrentExecutions: Match.absent() });
    }
  });

  it('reservedConcurrency: set reserves (and caps) that many executions for the function', () => {
    on.template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'nanobot', ReservedConcurrentExecutions: 20 });
  });

  it('usage quota: unset leaves the usage plan without a quota, throttle unchanged', () => {
    off.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 25, BurstLimit: 50 },
      Quota: Match.absent(),
    });
  });

  it('usage quota: set puts limit and period on the usage plan bound to the API key', () => {
    on.template.resourceCountIs('AWS::ApiGateway::UsagePlan', 1);
    on.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 25, BurstLimit: 50 },
      Quota: { Limit: 100000, Period: 'MONTH' },
    });
    on.template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  it.each([
    [{ reservedConcurrency: '0' }, /context reservedConcurrency must be an integer ≥ 1/],
    [{ usageQuotaLimit: '1000' }, /usageQuotaLimit and usageQuotaPeriod go together/],
    [{ usageQuotaLimit: '1000', usageQuotaPeriod: 'YEAR' }, /context usageQuotaPeriod must be one of DAY, WEEK, MONTH/],
  ])('a bad value fails synth naming the context key: %j', (context, message) => {
    expect(() => synthNanobot({ context })).toThrow(message);
  });
});
