import * as fs from 'fs';
import * as path from 'path';
import { App, Stack, Token, Validations } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { cdkJsonContext, NO_BUNDLING, Synthesized, synthNanobot } from './synth';

/**
 * cdk-nag 3 runs as a CDK policy-validation plugin: findings land in the cloud assembly's
 * validation report (and synth throws on error-level ones). The report must have no violations
 * at all, and the acknowledgements must be exactly the reviewed set, each with a real reason.
 */
interface ValidationReport {
  pluginReports: {
    pluginName: string;
    conclusion: string;
    violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}
const readReport = (dir: string): ValidationReport =>
  JSON.parse(fs.readFileSync(path.join(dir, 'validation-report.json'), 'utf8')) as ValidationReport;
const describeViolations = (report: ValidationReport): string[] =>
  report.pluginReports.flatMap((r) =>
    r.violations.map((v) => `${r.pluginName}: ${v.ruleName} (${v.severity}) at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`),
  );

/** Every rule the stack acknowledges, and where. Adding one must be a reviewed change to this list. */
const EXPECTED_ACKNOWLEDGEMENTS = [
  'NanobotStack/MediaApi/Api/CloudWatchRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
  'NanobotStack/MediaApi/Api/Default AwsSolutions-APIG4',
  'NanobotStack/MediaApi/Api/Default AwsSolutions-COG4',
  'NanobotStack/MediaApi/Api/DeploymentStage.prod AwsSolutions-APIG3',
  'NanobotStack/MediaFunction/Function AwsSolutions-L1',
  'NanobotStack/ProbeSchedule/Function AwsSolutions-L1',
  'NanobotStack/ProviderKeys/Secret AwsSolutions-SMG4',
];

let s: Synthesized;
beforeAll(() => {
  // Exactly what `cdk synth` runs: cdk.json context, the nag plugin and CloudFormation schema checks.
  s = synthNanobot({ cfnSchemaValidation: true });
});

describe('cdk-nag AwsSolutions', () => {
  it('the policy validation report has no unacknowledged findings (nag or CloudFormation schema)', () => {
    expect(describeViolations(readReport(s.assemblyDir))).toEqual([]);
  });

  it('running the pack directly over the app agrees: no findings', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(s.app);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.description}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledges exactly the reviewed rules, each with a specific reason', () => {
    const found: string[] = [];
    for (const c of s.app.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          found.push(`${c.node.path} ${id.replace(/^annotation::/i, '')}`);
          expect(reason.length).toBeGreaterThan(80);
          expect(reason).not.toMatch(/^(n\/a|todo|not needed|suppressed)\b/i);
        }
      }
    }
    expect(found.sort()).toEqual([...EXPECTED_ACKNOWLEDGEMENTS].sort());
  });

  it('every acknowledgement silences a real finding (none is stale)', () => {
    // The same pack with acknowledgements ignored: its findings must be exactly the acknowledged ones.
    const raw = new AwsSolutionsChecks();
    Object.defineProperty(raw, 'isAcknowledged', { value: () => false });
    const findings = raw
      .validateScope(s.app)
      .violations.map((v) => v.ruleName)
      .sort();
    expect(findings).toEqual([...new Set(EXPECTED_ACKNOWLEDGEMENTS.map((a) => a.split(' ')[1]))].sort());
  });

  it('writes the acknowledgements into the template Metadata for audit', () => {
    expect(s.json).toContain('"cdk_nag":{"rules_to_suppress":[');
  });

  it('would fail on a finding: an SNS topic without TLS enforcement is reported', () => {
    const app = new App({ context: { ...cdkJsonContext(), ...NO_BUNDLING } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Bad');
    new Topic(stack, 'PlainTopic');
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS3/);
  });
});

describe('app and cdk.json', () => {
  it('synthesises offline and environment-agnostic (no env, no lookups)', () => {
    expect(Token.isUnresolved(s.stack.account)).toBe(true);
    expect(Token.isUnresolved(s.stack.region)).toBe(true);
    // No context lookups: a lookup would show up as missing context for the CLI to fetch.
    expect(s.app.synth().manifest.missing ?? []).toEqual([]);
  });

  it('cdk.json runs bin/nanobot.ts with tsx, notices, lookups and telemetry off', () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as Record<
      string,
      unknown
    > & { context: Record<string, unknown> };
    expect(cdkJson.app).toBe('npx tsx bin/nanobot.ts');
    expect(cdkJson.notices).toBe(false);
    expect(cdkJson.lookups).toBe(false);
    expect(cdkJson.context['cli-telemetry']).toBe(false);
    expect(cdkJson.context['@aws-cdk/aws-iam:minimizePolicies']).toBe(true);
  });

  it('defaults apply when no context is given: default throttle, no email subscription', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 25, BurstLimit: 50 } });
    s.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});
