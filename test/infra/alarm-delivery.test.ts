import { ACCOUNT, arnOf, decide, PARTITION, PolicyRequest, PolicyStatement, REGION, resolve } from './policy';
import { Synthesized, synthNanobot } from './synth';

/**
 * An alarm notification reaches subscribers only if, for the alarm's action, CloudWatch
 * (service principal cloudwatch.amazonaws.com, acting for that alarm) may
 *   1. sns:Publish on the topic under its topic policy (an AWS::SNS::TopicPolicy replaces the
 *      topic's default policy, so without an Allow nothing may publish), and
 *   2. kms:GenerateDataKey and kms:Decrypt on the topic's key under its key policy (the account
 *      root's kms:* does not extend to service principals).
 * Both grants must hold only for this account's own alarms (confused-deputy conditions). These tests
 * walk every action of every alarm in the synthesised template and decide each request with a
 * model of policy evaluation (./policy.ts), so a new alarm, topic or key is covered without a list.
 */

type TemplateJson = Parameters<typeof arnOf>[0];
type Resource = { Type: string; Properties: Record<string, unknown> };

const CLOUDWATCH = 'cloudwatch.amazonaws.com';
const ACTION_PROPERTIES = ['AlarmActions', 'OKActions', 'InsufficientDataActions'] as const;

let s: Synthesized;
let template: TemplateJson;
let resources: Record<string, Resource>;
beforeAll(() => {
  s = synthNanobot();
  template = s.template.toJSON() as TemplateJson;
  resources = template.Resources as Record<string, Resource>;
});

const ofType = (type: string): [string, Resource][] => Object.entries(resources).filter(([, r]) => r.Type === type);

/** Every (alarm, action property, action) triple; the action must be a topic of this template. */
function alarmActions(): { alarm: string; alarmArn: string; property: string; topicId: string }[] {
  return ofType('AWS::CloudWatch::Alarm').flatMap(([id, alarm]) => {
    const name = alarm.Properties.AlarmName;
    if (typeof name !== 'string') throw new Error(`alarm ${id} has no fixed AlarmName, so no SourceArn condition can name it`);
    return ACTION_PROPERTIES.flatMap((property) =>
      ((alarm.Properties[property] as unknown[] | undefined) ?? []).map((action) => {
        const ref = (action as { Ref?: string }).Ref;
        if (!ref || resources[ref]?.Type !== 'AWS::SNS::Topic') {
          throw new Error(`alarm ${name} ${property}: ${JSON.stringify(action)} is not a topic of this stack; prove its delivery path too`);
        }
        return { alarm: name, alarmArn: arnOf(template, id), property, topicId: ref };
      }),
    );
  });
}

/** The one topic policy attached to a topic (several would leave the effective one undefined). */
function topicPolicy(topicId: string): PolicyStatement[] {
  const policies = ofType('AWS::SNS::TopicPolicy').filter(([, p]) =>
    (p.Properties.Topics as unknown[]).some((t) => (t as { Ref?: string }).Ref === topicId),
  );
  expect(policies).toHaveLength(1);
  return (policies[0][1].Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement;
}

/** The template key encrypting a topic, or undefined for an unencrypted topic. */
function topicKey(topicId: string): { keyId: string; statements: PolicyStatement[] } | undefined {
  const keyRef = resources[topicId].Properties.KmsMasterKeyId as { 'Fn::GetAtt'?: string[]; Ref?: string } | string | undefined;
  if (keyRef === undefined) return undefined;
  const keyId = typeof keyRef === 'object' ? (keyRef['Fn::GetAtt']?.[0] ?? keyRef.Ref) : undefined;
  // A literal key id or alias (e.g. alias/aws/sns) cannot be checked, and the AWS-managed key never lets CloudWatch in.
  if (!keyId || resources[keyId]?.Type !== 'AWS::KMS::Key') throw new Error(`topic ${topicId} is encrypted with ${JSON.stringify(keyRef)}, not a key of this stack`);
  return { keyId, statements: (resources[keyId].Properties.KeyPolicy as { Statement: PolicyStatement[] }).Statement };
}

/** The request context CloudWatch sends when it acts for `alarmArn` (over TLS). */
const fromAlarm = (alarmArn: string, account = ACCOUNT): Record<string, string> => ({
  'aws:SourceAccount': account,
  'aws:SourceArn': alarmArn,
  'aws:SecureTransport': 'true',
});

const publish = (topicId: string, context: Record<string, string>): PolicyRequest => ({
  servicePrincipal: CLOUDWATCH,
  action: 'sns:Publish',
  resource: arnOf(template, topicId),
  context,
});
const kms = (keyId: string, action: string, context: Record<string, string>): PolicyRequest => ({
  servicePrincipal: CLOUDWATCH,
  action,
  resource: arnOf(template, keyId),
  context,
});
const KMS_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

describe('alarm notifications can be delivered', () => {
  it('every alarm has actions, and every action is a topic of this stack (nothing to prove vacuously)', () => {
    const actions = alarmActions();
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(13);
    // ALARM and OK for each alarm.
    expect(actions.length).toBeGreaterThanOrEqual(alarms.length * 2);
    expect(new Set(actions.map((a) => a.alarm)).size).toBe(alarms.length);
  });

  it('every alarm action: the topic policy allows CloudWatch to publish for that alarm', () => {
    for (const a of alarmActions()) {
      const decision = decide(template, topicPolicy(a.topicId), publish(a.topicId, fromAlarm(a.alarmArn)));
      expect({ alarm: a.alarm, action: a.property, decision }).toEqual({ alarm: a.alarm, action: a.property, decision: 'allow' });
    }
  });

  it('every alarm action: the topic key policy lets CloudWatch generate and decrypt data keys for that alarm', () => {
    let checked = 0;
    for (const a of alarmActions()) {
      const key = topicKey(a.topicId);
      if (!key) continue;
      for (const action of KMS_ACTIONS) {
        const decision = decide(template, key.statements, kms(key.keyId, action, fromAlarm(a.alarmArn)));
        expect({ alarm: a.alarm, action, decision }).toEqual({ alarm: a.alarm, action, decision: 'allow' });
        checked += 1;
      }
    }
    // The alarm topic is encrypted (cdk-nag SNS2), so this must have checked something.
    expect(checked).toBeGreaterThan(0);
  });

  it("the CloudWatch grants carry aws:SourceAccount (this account) and aws:SourceArn (this stack's nanobot-* alarms)", () => {
    const allowsCloudWatch = (st: PolicyStatement) =>
      st.Effect === 'Allow' && JSON.stringify(st.Principal ?? '').includes(`"${CLOUDWATCH}"`);
    const expectConditions = (st: PolicyStatement) => {
      expect(st.Condition).toEqual({
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': expect.anything() },
      });
      expect(resolve(template, st.Condition?.ArnLike['aws:SourceArn'])).toBe(
        `arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:nanobot-*`,
      );
    };
    const topics = new Set(alarmActions().map((a) => a.topicId));
    expect(topics.size).toBeGreaterThan(0);
    for (const topicId of topics) {
      const topicGrants = topicPolicy(topicId).filter(allowsCloudWatch);
      expect(topicGrants).toHaveLength(1);
      expectConditions(topicGrants[0]);
      const key = topicKey(topicId);
      if (!key) continue;
      const keyGrants = key.statements.filter(allowsCloudWatch);
      expect(keyGrants).toHaveLength(1);
      expect(keyGrants[0].Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
      expectConditions(keyGrants[0]);
    }
  });

  it.each([
    ['an alarm of another account', (arn: string) => fromAlarm(arn.replace(ACCOUNT, '444455556666'), '444455556666')],
    ['an alarm of this account not named nanobot-*', (arn: string) => fromAlarm(arn.replace(/:alarm:.*/, ':alarm:someone-elses-alarm'))],
    ['no alarm at all (no source in the request)', () => ({ 'aws:SecureTransport': 'true' })],
  ])('confused deputy: CloudWatch acting for %s may neither publish nor use the key', (_name, context) => {
    for (const a of alarmActions()) {
      expect(decide(template, topicPolicy(a.topicId), publish(a.topicId, context(a.alarmArn)))).not.toBe('allow');
      const key = topicKey(a.topicId);
      for (const action of key ? KMS_ACTIONS : []) {
        expect(decide(template, key!.statements, kms(key!.keyId, action, context(a.alarmArn)))).not.toBe('allow');
      }
    }
  });

  it('publishing without TLS stays denied to every principal, CloudWatch included', () => {
    for (const a of alarmActions()) {
      const insecure = { ...fromAlarm(a.alarmArn), 'aws:SecureTransport': 'false' };
      for (const servicePrincipal of [CLOUDWATCH, 'events.amazonaws.com']) {
        const request = { ...publish(a.topicId, insecure), servicePrincipal };
        expect({ servicePrincipal, decision: decide(template, topicPolicy(a.topicId), request) }).toEqual({
          servicePrincipal,
          decision: 'explicit-deny',
        });
      }
      // The Deny names every principal, not only the ones tried here.
      const denies = topicPolicy(a.topicId).filter((st) => st.Effect === 'Deny');
      expect(denies).toEqual([expect.objectContaining({ Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]);
    }
  });
});
