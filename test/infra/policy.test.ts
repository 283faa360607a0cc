import { ACCOUNT, decide, PolicyRequest, PolicyStatement } from './policy';

/** The policy model behind alarm-delivery.test.ts must itself deny what AWS denies. */
const template = { Resources: {} };
const request: PolicyRequest = {
  servicePrincipal: 'cloudwatch.amazonaws.com',
  action: 'sns:Publish',
  resource: `arn:aws:sns:eu-west-1:${ACCOUNT}:t`,
  context: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:nanobot-x` },
};
const allow = (extra: Partial<PolicyStatement>): PolicyStatement => ({
  Effect: 'Allow',
  Principal: { Service: 'cloudwatch.amazonaws.com' },
  Action: 'sns:Publish',
  Resource: '*',
  ...extra,
});

describe('policy model', () => {
  it.each<[string, PolicyStatement[], string]>([
    ['no statement: implicit deny', [], 'implicit-deny'],
    ['a matching Allow', [allow({})], 'allow'],
    ['Allow for another service', [allow({ Principal: { Service: 'events.amazonaws.com' } })], 'implicit-deny'],
    ["the account root's Allow does not cover a service principal", [allow({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } })], 'implicit-deny'],
    ['Allow for another action', [allow({ Action: 'sns:Subscribe' })], 'implicit-deny'],
    ['action names are case-insensitive, wildcards expand', [allow({ Action: 'SNS:Pub*' })], 'allow'],
    ['Allow on another resource', [allow({ Resource: 'arn:aws:sns:eu-west-1:111122223333:other' })], 'implicit-deny'],
    ['StringEquals on another account', [allow({ Condition: { StringEquals: { 'aws:SourceAccount': '444455556666' } } })], 'implicit-deny'],
    ['ArnLike on the alarm prefix', [allow({ Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:*:${ACCOUNT}:alarm:nanobot-*` } } })], 'allow'],
    ['ArnLike on another prefix', [allow({ Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:*:${ACCOUNT}:alarm:other-*` } } })], 'implicit-deny'],
    ['a condition key missing from the request', [allow({ Condition: { StringEquals: { 'aws:SourceOrgID': 'o-1' } } })], 'implicit-deny'],
    ['Deny beats Allow', [allow({}), allow({ Effect: 'Deny', Principal: '*' })], 'explicit-deny'],
  ])('%s', (_name, statements, expected) => {
    expect(decide(template, statements, request)).toBe(expected);
  });

  it('throws on what it does not model, instead of matching', () => {
    expect(() => decide(template, [allow({ Condition: { NumericLessThan: { 'aws:SourceAccount': '1' } } })], request)).toThrow(
      /NumericLessThan is not modelled/,
    );
    expect(() => decide(template, [{ ...allow({}), NotAction: 'sns:Subscribe' } as PolicyStatement], request)).toThrow(/NotAction/);
  });
});
