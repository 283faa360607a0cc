import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { PROBE_CHANGES_QUERY } from '../../lib/constructs/probe-dashboard';
import { ProbeSchedule } from '../../lib/constructs/probe-schedule';
import { ConfigTable } from '../../lib/constructs/config-table';
import { ProviderKeys } from '../../lib/constructs/provider-keys';
import { PROBE_HANDLER_EXPORT, PROBE_METRICS, VENDORS } from '../../lib/names';
import { parseSettings } from '../../lib/settings';
import { cdkJsonContext, NO_BUNDLING, resourcesOf, Synthesized, synthNanobot } from './synth';

/**
 * The scheduled key probe in the template: an EventBridge rule every `probeIntervalMinutes`,
 * invoking a second function that runs the API function's own bundle (`index.probeHandler`)
 * with its role, allowed to by exactly one Lambda permission; its alarms and dashboard row.
 */
let s: Synthesized;
let custom: Synthesized;
beforeAll(() => {
  s = synthNanobot();
  custom = synthNanobot({ context: { probeIntervalMinutes: '5', keyQuotaAlarmPercent: '90' } });
});

type Res = { Properties: Record<string, unknown> };
const byName = (t: Synthesized, type: string, nameProp: string, name: string): [string, Res] => {
  const found = Object.entries(resourcesOf(t.template, type)).find(([, r]) => r.Properties[nameProp] === name);
  if (!found) throw new Error(`no ${type} ${name}`);
  return found;
};
const probeFn = (t = s) => byName(t, 'AWS::Lambda::Function', 'FunctionName', 'nanobot-probe');
const apiFn = (t = s) => byName(t, 'AWS::Lambda::Function', 'FunctionName', 'nanobot');
const alarm = (t: Synthesized, name: string) => byName(t, 'AWS::CloudWatch::Alarm', 'AlarmName', name)[1].Properties as Record<string, unknown> & { Metrics?: { Expression?: string; Period?: number; MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: unknown }[] }; Stat: string } }[] };

describe('schedule', () => {
  it('an EventBridge rule every minute (default) targets the probe function, no retries, events older than a minute dropped', () => {
    const [fnId] = probeFn();
    s.template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'nanobot-probe-schedule',
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } }],
    });
    s.template.resourceCountIs('AWS::Events::Rule', 1);
  });

  it('the period is the probeIntervalMinutes context setting, and both functions know it', () => {
    custom.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    for (const [, fn] of [probeFn(custom), apiFn(custom)]) {
      expect((fn.Properties.Environment as { Variables: Record<string, string> }).Variables).toMatchObject({ PROBE_INTERVAL_MS: '300000', PROBE_QUOTA_WARN_PERCENT: '90' });
    }
  });

  it('permission: only events.amazonaws.com, only from this rule, may invoke the probe function', () => {
    const [fnId] = probeFn();
    const [ruleId] = Object.keys(resourcesOf(s.template, 'AWS::Events::Rule'));
    const fromEvents = Object.values(resourcesOf(s.template, 'AWS::Lambda::Permission')).filter((p) => p.Properties.Principal === 'events.amazonaws.com');
    expect(fromEvents.map((p) => p.Properties)).toEqual([
      { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] }, Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] } },
    ]);
    // Nothing else may invoke the probe; nothing but API Gateway may invoke the API function.
    const others = Object.values(resourcesOf(s.template, 'AWS::Lambda::Permission')).filter((p) => p.Properties.Principal !== 'events.amazonaws.com');
    for (const p of others) expect(p.Properties).toMatchObject({ Principal: 'apigateway.amazonaws.com', FunctionName: { 'Fn::GetAtt': [apiFn()[0], 'Arn'] } });
  });
});

describe('probe function', () => {
  it('runs the API function\'s own bundle, second export, with its role; 30 s timeout under the 60 s period; no async retries', () => {
    const [id, fn] = probeFn();
    const [, api] = apiFn();
    expect(fn.Properties).toMatchObject({ Handler: `index.${PROBE_HANDLER_EXPORT}`, Runtime: 'nodejs22.x', Architectures: ['arm64'], MemorySize: 256, Timeout: 30 });
    expect(fn.Properties.Code).toEqual(api.Properties.Code);
    expect(fn.Properties.Role).toEqual(api.Properties.Role);
    expect(fs.readFileSync(path.join(__dirname, '..', '..', 'lambda', 'index.mts'), 'utf8')).toMatch(new RegExp(`export \\{[^}]*\\b${PROBE_HANDLER_EXPORT}\\b`));
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: id }, MaximumRetryAttempts: 0 });
  });

  it('logs to its own /aws/lambda/nanobot-probe (30 days), which the shared role may write', () => {
    const [lgId] = byName(s, 'AWS::Logs::LogGroup', 'LogGroupName', '/aws/lambda/nanobot-probe');
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/nanobot-probe', RetentionInDays: 30 });
    expect(probeFn()[1].Properties.LoggingConfig).toEqual({ LogGroup: { Ref: lgId } });
    const statements = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy')).flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement);
    expect(statements.some((st) => JSON.stringify(st.Resource).includes(lgId) && JSON.stringify(st.Action).includes('logs:PutLogEvents'))).toBe(true);
  });

  it('gets the environment the probe handler reads, and no key', () => {
    const vars = (probeFn()[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(vars).sort()).toEqual(
      ['NODE_OPTIONS', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME', 'PROBE_INTERVAL_MS', 'PROBE_QUOTA_WARN_PERCENT', 'PROBE_RUN_BUDGET_MS', 'PROVIDER_KEYS_SECRET_ID', 'TABLE_NAME'].sort(),
    );
    expect(vars).toMatchObject({ PROBE_RUN_BUDGET_MS: '20000', PROBE_INTERVAL_MS: '60000', PROBE_QUOTA_WARN_PERCENT: '80' });
  });

  it('a run that could overlap the next is refused at synth', () => {
    const app = new App({ context: { ...cdkJsonContext(), ...NO_BUNDLING } });
    const stack = new Stack(app, 'Overlap');
    const api = new NodejsFunction(stack, 'Api', { entry: path.join(__dirname, 'fixtures', 'index.mts'), runtime: Runtime.NODEJS_22_X });
    const props = { api, table: new ConfigTable(stack, 'T'), providerKeys: new ProviderKeys(stack, 'K'), quotaWarnPercent: 80 };
    expect(() => new ProbeSchedule(stack, 'P', { ...props, interval: Duration.minutes(1), runBudget: Duration.seconds(25) })).toThrow(/under half the interval/);
    expect(() => new ProbeSchedule(stack, 'Q', { ...props, interval: Duration.minutes(1) })).not.toThrow();
  });
});

describe('alarms', () => {
  it('a key\'s quota at or above keyQuotaAlarmPercent: one Metrics Insights query over every key', () => {
    for (const [t, threshold] of [[s, 80], [custom, 90]] as const) {
      const a = alarm(t, 'nanobot-key-quota-high');
      expect(a).toMatchObject({ Threshold: threshold, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      expect(a.Metrics).toEqual([
        expect.objectContaining({ Expression: `SELECT MAX(${PROBE_METRICS.keyQuotaUsedPercent}) FROM SCHEMA("Nanobot", key, service, vendor)`, Period: 300, ReturnData: true }),
      ]);
    }
  });

  it.each([...VENDORS])('no %s key passing probes: KeysPassingProbes {service, vendor} below 1 for a whole period', (vendor) => {
    const a = alarm(s, `nanobot-no-key-passing-probes-${vendor}`);
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'notBreaching' });
    const stat = a.Metrics?.[0]?.MetricStat ?? { Metric: { MetricName: a.MetricName as string, Dimensions: a.Dimensions as { Name: string; Value: unknown }[] }, Stat: a.Statistic as string };
    expect(stat.Metric.MetricName).toBe(PROBE_METRICS.keysPassingProbes);
    expect(stat.Stat).toBe('Minimum');
    expect(Object.fromEntries(stat.Metric.Dimensions.map((d) => [d.Name, d.Value]))).toEqual({ service: 'nanobot', vendor });
  });

  it('probe runs failing (the function\'s errors in 2 of 3 periods) and missing (no invocation for 15 minutes: missing data breaches)', () => {
    const [fnId] = probeFn();
    expect(alarm(s, 'nanobot-probe-runs-failing')).toMatchObject({
      Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Threshold: 1, EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching',
    });
    expect(alarm(s, 'nanobot-probe-runs-missing')).toMatchObject({
      MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Threshold: 1, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 3, TreatMissingData: 'breaching',
    });
  });
});

describe('dashboard row', () => {
  it('graphs keys passing, probe failures, quota per key (SEARCH) and the probe function; lists recent probe changes', () => {
    const [dashboard] = Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Dashboard'));
    const join = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
    const body = join['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('');
    for (const name of Object.values(PROBE_METRICS)) expect(body).toContain(name);
    for (const vendor of VENDORS) expect(body).toContain(`"vendor","${vendor}"`);
    expect(body).toContain(`SEARCH('{Nanobot,key,service,vendor} MetricName=\\"KeyQuotaUsedPercent\\"', 'Maximum', 300)`);
    expect(body).toContain(JSON.stringify(PROBE_CHANGES_QUERY).slice(1, -1));
    expect(body).toContain(byName(s, 'AWS::Logs::LogGroup', 'LogGroupName', '/aws/lambda/nanobot-probe')[0]);
  });
});

describe('settings', () => {
  it('probeIntervalMinutes (1–60 whole minutes) and keyQuotaAlarmPercent (1–100)', () => {
    expect(parseSettings(() => undefined)).toMatchObject({ probeIntervalMinutes: 1, keyQuotaAlarmPercent: 80 });
    expect(parseSettings((k) => ({ probeIntervalMinutes: '10', keyQuotaAlarmPercent: '95.5' })[k])).toMatchObject({ probeIntervalMinutes: 10, keyQuotaAlarmPercent: 95.5 });
    expect(() => parseSettings((k) => ({ probeIntervalMinutes: '0' })[k])).toThrow(/context probeIntervalMinutes must be an integer between 1 and 60/);
    expect(() => parseSettings((k) => ({ probeIntervalMinutes: '1.5' })[k])).toThrow(/probeIntervalMinutes/);
    expect(() => parseSettings((k) => ({ keyQuotaAlarmPercent: '120' })[k])).toThrow(/context keyQuotaAlarmPercent must be a number between 1 and 100/);
  });
});
