import { Match } from 'aws-cdk-lib/assertions';
import { ROTATIONS_QUERY } from '../../lib/constructs/health-dashboard';
import { PROVIDER_IDS as PROVIDERS } from '../../lambda/providers/registry';
import { PROVIDER_IDS, PROVIDER_METRICS, VENDORS } from '../../lib/names';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { resourcesOf, Synthesized, synthNanobot } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synthNanobot({
    context: { alarmEmail: 'ops@example.com', rotationAlarmThreshold: '12', failureRatioThreshold: '0.4', latencyP95AlarmMs: '15000' },
  });
});

interface MetricStatJson {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: {
    Metric: { MetricName: string; Namespace: string; Dimensions: { Name: string; Value: unknown }[] };
    Period: number;
    Stat: string;
  };
}
interface AlarmJson {
  AlarmName: string;
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  AlarmActions: unknown[];
  OKActions: unknown[];
  Metrics?: MetricStatJson[];
  MetricName?: string;
  Namespace?: string;
  Statistic?: string;
  ExtendedStatistic?: string;
  Period?: number;
  Dimensions?: { Name: string; Value: unknown }[];
}

const alarms = (): Map<string, AlarmJson> =>
  new Map(
    Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Alarm')).map((r) => {
      const a = r.Properties as unknown as AlarmJson;
      return [a.AlarmName, a];
    }),
  );
const alarm = (name: string): AlarmJson => {
  const a = alarms().get(name);
  if (!a) throw new Error(`no alarm ${name}; have ${[...alarms().keys()].join(', ')}`);
  return a;
};

/** Asserts an alarm is a SUM over the six providers of `metricName`, each with dims exactly {service, provider}. */
function expectSumOverProviders(a: AlarmJson, metricName: string): void {
  const metrics = a.Metrics ?? [];
  const expr = metrics.filter((m) => m.Expression);
  expect(expr).toHaveLength(1);
  expect(expr[0].ReturnData).toBe(true);
  const inputs = metrics.filter((m) => m.MetricStat);
  expect(expr[0].Expression).toBe(`SUM([${inputs.map((m) => m.Id).join(', ')}])`);
  expect(inputs).toHaveLength(PROVIDER_IDS.length);
  const providers = inputs.map((m) => {
    const stat = m.MetricStat!;
    expect(stat.Metric.MetricName).toBe(metricName);
    expect(stat.Metric.Namespace).toBe('Nanobot');
    expect(stat.Stat).toBe('Sum');
    expect(stat.Period).toBe(300);
    const dims = Object.fromEntries(stat.Metric.Dimensions.map((d) => [d.Name, d.Value]));
    expect(Object.keys(dims).sort()).toEqual(['provider', 'service']);
    expect(dims.service).toBe('nanobot');
    return dims.provider;
  });
  expect(providers.sort()).toEqual([...PROVIDER_IDS].sort());
}

describe('HealthAlarms', () => {
  it("watches the function's own provider ids", () => {
    expect([...PROVIDER_IDS].sort()).toEqual([...PROVIDERS].sort());
  });

  it('defines exactly these alarms', () => {
    expect([...alarms().keys()].sort()).toEqual(
      [
        'nanobot-key-rotations',
        'nanobot-rotated-log-lines',
        'nanobot-all-keys-exhausted',
        'nanobot-keys-disabled',
        'nanobot-fallbacks',
        ...PROVIDER_IDS.map((p) => `nanobot-failure-ratio-${p}`),
        'nanobot-function-errors',
        'nanobot-function-throttles',
        ...PROVIDER_IDS.map((p) => `nanobot-ttfb-p95-${p}`),
        // The key probes' (test/infra/probes.test.ts).
        'nanobot-key-quota-high',
        ...VENDORS.map((v) => `nanobot-no-key-passing-probes-${v}`),
        'nanobot-probe-runs-failing',
        'nanobot-probe-runs-missing',
      ].sort(),
    );
    s.template.resourceCountIs('AWS::CloudWatch::Alarm', 19 + 7);
  });

  it('every alarm: missing data is not breaching (but for the probe heartbeat), ALARM and OK notify the topic', () => {
    const topicId = Object.keys(resourcesOf(s.template, 'AWS::SNS::Topic'))[0];
    for (const a of [...alarms().values()].filter((x) => x.AlarmName !== 'nanobot-probe-runs-missing')) {
      expect({ name: a.AlarmName, missing: a.TreatMissingData }).toEqual({ name: a.AlarmName, missing: 'notBreaching' });
      expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('key rotations: EMF KeyRotations summed over the six providers, 5 min, ≥ context threshold', () => {
    const a = alarm('nanobot-key-rotations');
    expect(a).toMatchObject({ Threshold: 12, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1 });
    expectSumOverProviders(a, 'KeyRotations');
  });

  it('rotated log lines: metric filter "rotated" on /aws/lambda/nanobot → Nanobot/RotatedLogLines', () => {
    const [logGroupId] = Object.keys(
      s.template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/aws/lambda/nanobot' } }),
    );
    s.template.resourceCountIs('AWS::Logs::MetricFilter', 1);
    s.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: logGroupId },
      FilterPattern: '"rotated"',
      MetricTransformations: [{ MetricNamespace: 'Nanobot', MetricName: 'RotatedLogLines', MetricValue: '1' }],
    });
    expect(alarm('nanobot-rotated-log-lines')).toMatchObject({
      Namespace: 'Nanobot',
      MetricName: 'RotatedLogLines',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 12,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('all keys exhausted and keys disabled: any occurrence across providers', () => {
    for (const [name, metric] of [
      ['nanobot-all-keys-exhausted', 'AllKeysExhausted'],
      ['nanobot-keys-disabled', 'KeysDisabled'],
    ]) {
      const a = alarm(name);
      expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      expectSumOverProviders(a, metric);
    }
  });

  it('fallback frequency: at least 20 fallbacks in 5 minutes across providers (EMF Fallbacks)', () => {
    const a = alarm('nanobot-fallbacks');
    expect(a).toMatchObject({ Threshold: 20, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    expectSumOverProviders(a, 'Fallbacks');
    expect((a as unknown as { AlarmDescription: string }).AlarmDescription).toContain('fell back');
  });

  it.each([...PROVIDER_IDS])('failure ratio of %s: Failures/Requests with a minimum of requests', (provider) => {
    const a = alarm(`nanobot-failure-ratio-${provider}`);
    expect(a).toMatchObject({ Threshold: 0.4, ComparisonOperator: 'GreaterThanThreshold' });
    const metrics = a.Metrics ?? [];
    const p = provider.replace(/-/g, '_');
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      `IF(req_${p} >= 10, FILL(fail_${p}, 0) / req_${p}, 0)`,
    );
    const byId = new Map(metrics.map((m) => [m.Id, m.MetricStat]));
    for (const [id, name] of [
      [`req_${p}`, 'Requests'],
      [`fail_${p}`, 'Failures'],
    ]) {
      expect(byId.get(id)).toMatchObject({
        Stat: 'Sum',
        Period: 300,
        Metric: {
          Namespace: 'Nanobot',
          MetricName: name,
          Dimensions: expect.arrayContaining([
            { Name: 'service', Value: 'nanobot' },
            { Name: 'provider', Value: provider },
          ]),
        },
      });
      expect(byId.get(id)?.Metric.Dimensions).toHaveLength(2);
    }
  });

  it('function errors and throttles; no alarm on function duration (a streamed answer lasts as long as its audio)', () => {
    const fnRef = { Ref: Object.keys(resourcesOf(s.template, 'AWS::Lambda::Function'))[0] };
    expect(alarm('nanobot-function-errors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Threshold: 1,
      Dimensions: [{ Name: 'FunctionName', Value: fnRef }],
    });
    expect(alarm('nanobot-function-throttles')).toMatchObject({ MetricName: 'Throttles', Statistic: 'Sum', Threshold: 1 });
    expect([...alarms().values()].filter((a) => a.MetricName === 'Duration')).toEqual([]);
  });

  it.each([...PROVIDER_IDS])('time to first byte of %s: EMF TimeToFirstByte p95 above latencyP95AlarmMs in 2 of 3 periods', (provider) => {
    const a = alarm(`nanobot-ttfb-p95-${provider}`);
    expect(a).toMatchObject({
      Threshold: 15000, // the context value; the default stays 20 s (below)
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    expect(a.Metrics).toHaveLength(1);
    const stat = a.Metrics?.[0].MetricStat;
    expect(stat).toMatchObject({ Stat: 'p95', Period: 300, Metric: { Namespace: 'Nanobot', MetricName: 'TimeToFirstByte' } });
    expect(Object.fromEntries((stat?.Metric.Dimensions ?? []).map((d) => [d.Name, d.Value]))).toEqual({ service: 'nanobot', provider });
    expect(DEFAULT_SETTINGS.latencyP95AlarmMs).toBe(20_000);
  });

  it('notifies an encrypted, TLS-only SNS topic with the context email subscribed', () => {
    s.template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'nanobot-alarms',
      KmsMasterKeyId: Match.anyValue(),
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('HealthDashboard', () => {
  let body: string;
  beforeAll(() => {
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    s.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'nanobot' });
    const [dashboard] = Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Dashboard'));
    // DashboardBody is Fn::Join of literal parts and tokens; the literal parts are what we check.
    const join = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
    const token = (part: { Ref?: string; 'Fn::GetAtt'?: string[] }): string =>
      part.Ref ? `<${part.Ref}>` : part['Fn::GetAtt'] ? `<${part['Fn::GetAtt'].join('.')}>` : '<token>';
    body = join['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : token(part as object))).join('');
  });

  it('graphs every provider metric the function emits', () => {
    for (const name of Object.values(PROVIDER_METRICS)) expect(body).toContain(`"${name}"`);
    for (const provider of PROVIDER_IDS) expect(body).toContain(`"provider","${provider}"`);
    expect(body).toContain('"RotatedLogLines"');
    expect(body).toContain('"ColdStart"');
    expect(body).toContain('"function_name"');
  });

  it('shows success rate, 429s, rotations and latency p50/p95 per provider', () => {
    expect(body).toContain('Success rate per provider');
    expect(body).toContain('RateLimited');
    expect(body).toContain('Key rotations per provider');
    expect(body).toMatch(/"stat":"p50"/);
    expect(body).toMatch(/"stat":"p95"/);
    for (const provider of PROVIDER_IDS) {
      const p = provider.replace(/-/g, '_');
      expect(body).toContain(`100 * FILL(ok_${p}, 0) / sreq_${p}`);
    }
  });

  it('graphs time to first byte p50 and p95 of every provider, aborted streams and the admission queue, on {service, provider}', () => {
    type MetricRow = (string | { stat?: string; label?: string })[];
    const widgets = (JSON.parse(body) as { widgets: { type: string; properties: { title?: string; metrics?: MetricRow[] } }[] }).widgets;
    const byTitle = (title: string) => {
      const w = widgets.find((x) => x.properties.title === title);
      if (!w) throw new Error(`no widget "${title}"`);
      return w.properties.metrics ?? [];
    };
    /** Each row as {metric, dims, stat}: `[namespace, name, dim, value, …, {options}]`. */
    const rows = (title: string) =>
      byTitle(title).map((row) => {
        const opts = (typeof row[row.length - 1] === 'object' ? row[row.length - 1] : {}) as { stat?: string; label?: string };
        const flat = row.filter((x): x is string => typeof x === 'string');
        const dims = Object.fromEntries(flat.slice(2).flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])));
        return { namespace: flat[0], metric: flat[1], dims, stat: opts.stat };
      });

    const ttfb = rows('Time to first byte p50 / p95 per provider (ms)');
    expect(ttfb).toHaveLength(PROVIDER_IDS.length * 2);
    for (const r of ttfb) {
      expect(r).toMatchObject({ namespace: 'Nanobot', metric: 'TimeToFirstByte' });
      expect(Object.keys(r.dims).sort()).toEqual(['provider', 'service']);
      expect(r.dims.service).toBe('nanobot');
    }
    for (const stat of ['p50', 'p95']) expect(ttfb.filter((r) => r.stat === stat).map((r) => r.dims.provider).sort()).toEqual([...PROVIDER_IDS].sort());

    const aborted = rows('Streams aborted after the first byte');
    expect(aborted.map((r) => r.dims.provider).sort()).toEqual([...PROVIDER_IDS].sort());
    for (const r of aborted) expect(r).toMatchObject({ metric: 'StreamAborted', stat: 'Sum' });

    // The admission queue: wait p95, how many waited (QueueWait's sample count), refusals at once.
    const expectPerProvider = (title: string, metric: string, stat: string) => {
      const got = rows(title);
      expect(got.map((r) => r.dims.provider).sort()).toEqual([...PROVIDER_IDS].sort());
      for (const r of got) {
        expect(r).toMatchObject({ namespace: 'Nanobot', metric, stat });
        expect(Object.keys(r.dims).sort()).toEqual(['provider', 'service']);
      }
    };
    expectPerProvider('Admission queue wait p95 per provider (ms)', 'QueueWait', 'p95');
    expectPerProvider('Requests that waited in the admission queue', 'QueueWait', 'SampleCount');
    expectPerProvider('Refused at once by the admission queue (429)', 'QueueRefused', 'Sum');
  });

  it('has an alarm status widget with every alarm and the Logs Insights "rotated" query', () => {
    const widgets = (JSON.parse(body) as { widgets: { type: string; properties: Record<string, unknown> }[] }).widgets;
    const alarmWidget = widgets.find((w) => w.type === 'alarm');
    const alarmIds = Object.keys(resourcesOf(s.template, 'AWS::CloudWatch::Alarm')).map((id) => `<${id}.Arn>`);
    expect([...(alarmWidget?.properties.alarms as string[])].sort()).toEqual(alarmIds.sort());

    const logWidget = widgets.find((w) => w.type === 'log');
    const logGroupId = Object.keys(
      s.template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/aws/lambda/nanobot' } }),
    )[0];
    expect(logWidget?.properties.query).toBe(`SOURCE '<${logGroupId}>' | ${ROTATIONS_QUERY}`);
    expect(ROTATIONS_QUERY).toBe(
      'fields @timestamp, provider, reason, fromKey, toKey, retryAfterMs | filter @message like /rotated/ | sort @timestamp desc | limit 50',
    );
  });
});
