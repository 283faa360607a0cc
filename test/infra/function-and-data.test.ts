import * as fs from 'fs';
import * as path from 'path';
import { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { CONFIG_TABLE_ACTIONS, IDEMPOTENCY_DELETE_ACTIONS } from '../../lib/constructs/config-table';
import { resourcesOf, Synthesized, synthNanobot } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synthNanobot();
});

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
const statements = (): Statement[] =>
  Object.values(resourcesOf(s.template, 'AWS::IAM::Policy')).flatMap(
    (p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
const actionsOf = (st: Statement): string[] => (Array.isArray(st.Action) ? st.Action : [st.Action]);
const logicalId = (c: IConstruct): string => s.stack.getLogicalId(c.node.defaultChild as CfnElement);

describe('ConfigTable', () => {
  it('is a TableV2 (GlobalTable) named nanobot-config: pk/sk strings, on-demand, TTL on ttl, PITR', () => {
    s.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    s.template.resourceCountIs('AWS::DynamoDB::Table', 0);
    s.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'nanobot-config',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      ],
    });
  });

  it('is retained when the stack is deleted or the table replaced', () => {
    s.template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('ProviderKeys secret', () => {
  it('is created empty from a template: no literal SecretString', () => {
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    s.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'nanobot/provider-keys',
      SecretString: Match.absent(),
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: Match.serializedJson({ openai: [], elevenlabs: [], fal: [], kling: [] }),
      }),
    });
    s.template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  });

  it('no key-like literal anywhere in the template', () => {
    // OpenAI-style keys, ElevenLabs-style 32-hex keys, fal id:secret pairs, AWS access keys,
    // and no key variables configured through the function environment.
    expect(s.json).not.toMatch(/sk-[A-Za-z0-9_-]{8,}/);
    expect(s.json).not.toMatch(/\b[0-9a-f]{32}\b/);
    expect(s.json).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9a-f]{16,}/);
    expect(s.json).not.toMatch(/AKIA[0-9A-Z]{16}/);
    expect(s.json).not.toMatch(/(OPENAI|ELEVENLABS|FAL|KLING)_(API_)?KEYS?"/);
  });
});

describe('MediaFunction', () => {
  it('runs nodejs22.x on arm64 with the chosen memory and a timeout 10 s above the integration timeout', () => {
    // The API function and the key probe (same bundle, test/infra/probes.test.ts).
    s.template.resourceCountIs('AWS::Lambda::Function', 2);
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'nanobot',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 310,
    });
  });

  it('bundles the ES module entry lambda/index.mts, which exports `handler`', () => {
    const entry = path.join(__dirname, '..', '..', 'lambda', 'index.mts');
    expect(fs.readFileSync(entry, 'utf8')).toMatch(/export\s*(\{[^}]*\bhandler\b[^}]*\}|const handler\b|async function handler\b)/);
    expect(s.stack.media.function.runtime.name).toBe('nodejs22.x');
  });

  it('gets exactly the environment the handler reads', () => {
    const fn = Object.values(resourcesOf(s.template, 'AWS::Lambda::Function')).find((f) => f.Properties.FunctionName === 'nanobot')!;
    const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars).toEqual({
      TABLE_NAME: { Ref: logicalId(s.stack.table.table) },
      PROVIDER_KEYS_SECRET_ID: { Ref: logicalId(s.stack.providerKeys.secret) },
      REQUEST_DEADLINE_MS: '120000',
      // Status reads the key probes' results with the schedule's period and warning level.
      PROBE_INTERVAL_MS: '60000',
      PROBE_QUOTA_WARN_PERCENT: '80',
      POWERTOOLS_SERVICE_NAME: 'nanobot',
      POWERTOOLS_METRICS_NAMESPACE: 'Nanobot',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('logs to /aws/lambda/nanobot, created by the stack with finite retention', () => {
    s.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/lambda/nanobot',
      RetentionInDays: 30,
    });
    const [logGroupId] = Object.keys(
      s.template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/aws/lambda/nanobot' } }),
    );
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: logGroupId } },
    });
  });

  it('uses its own role: no AWS managed policies', () => {
    const roles = resourcesOf(s.template, 'AWS::IAM::Role');
    const lambdaRoles = Object.values(roles).filter((r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('lambda.amazonaws.com'),
    );
    expect(lambdaRoles).toHaveLength(1);
    expect(lambdaRoles[0].Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('least privilege', () => {
  const tableArn = () => ({ 'Fn::GetAtt': [logicalId(s.stack.table.table), 'Arn'] });

  const dynamoStatements = () => statements().filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));

  it('DynamoDB: GetItem, PutItem, UpdateItem, Query on the table ARN; DeleteItem only on IDEMPOTENCY# items', () => {
    const ddb = dynamoStatements();
    expect(ddb).toHaveLength(2);
    const [items, deletes] = [ddb.find((st) => st.Condition === undefined), ddb.find((st) => st.Condition !== undefined)];
    expect([...actionsOf(items!)].sort()).toEqual([...CONFIG_TABLE_ACTIONS].sort());
    expect(items!.Resource).toEqual(tableArn());
    expect(actionsOf(deletes!)).toEqual([...IDEMPOTENCY_DELETE_ACTIONS]);
    expect(deletes!.Resource).toEqual(tableArn());
    expect(deletes!.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['IDEMPOTENCY#*'] } });
  });

  it('DynamoDB: the actions granted are exactly the commands the code sends (its own and Powertools Idempotency\'s)', () => {
    const root = path.join(__dirname, '..', '..');
    const action = (cmd: string) => `dynamodb:${/^(Query|Scan)$/.test(cmd) ? cmd : `${cmd.replace(/Item$/, '')}Item`}`;
    const commandsIn = (text: string) => [...text.matchAll(/\b(Get|Put|Update|Delete|BatchGet|BatchWrite|TransactGet|TransactWrite|Query|Scan)(?:Item)?Command\b/g)].map((m) => action(m[1]));
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const ours = files(path.join(root, 'lambda'))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .filter((t) => /from '@aws-sdk\/(lib|client)-dynamodb'/.test(t))
      .flatMap((t) => commandsIn(t.split('\n').filter((l) => !l.trim().startsWith('import') && !l.trim().startsWith('*')).join('\n')));
    const powertools = commandsIn(fs.readFileSync(require.resolve('@aws-lambda-powertools/idempotency/dynamodb'), 'utf8'));
    expect(new Set(powertools)).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']));
    const granted = dynamoStatements().flatMap(actionsOf);
    expect([...new Set([...ours, ...powertools])].sort()).toEqual([...granted].sort());
    // Only Powertools deletes, and its records are the IDEMPOTENCY# items the grant is scoped to.
    expect(ours).not.toContain('dynamodb:DeleteItem');
  });

  it('Secrets Manager: only GetSecretValue on the one secret', () => {
    const sm = statements().filter((st) => actionsOf(st).some((a) => a.startsWith('secretsmanager:')));
    expect(sm).toHaveLength(1);
    expect(actionsOf(sm[0])).toEqual(['secretsmanager:GetSecretValue']);
    expect(sm[0].Resource).toEqual({ Ref: logicalId(s.stack.providerKeys.secret) });
  });

  it('no wildcard actions and no Resource "*" in any IAM policy', () => {
    for (const st of statements()) {
      for (const action of actionsOf(st)) expect(action).not.toMatch(/\*/);
      expect(st.Resource).not.toEqual('*');
      expect(JSON.stringify(st.Resource)).not.toMatch(/"\*"/);
    }
    expect(s.json).not.toContain('dynamodb:*');
  });
});
