import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NanobotStack } from './nanobot-stack';
import { parseSettings } from './settings';

export const STACK_NAME = 'NanobotStack';

/**
 * The CDK app: the one stack, its settings read from context, and the cdk-nag AwsSolutions
 * checks registered as a policy-validation plugin, so every `cdk synth`/`deploy` (and every
 * infra test) reports unacknowledged findings.
 */
export function createApp(props?: AppProps): { app: App; stack: NanobotStack } {
  const app = new App(props);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
  const stack = new NanobotStack(app, STACK_NAME, {
    description: 'nanobot media gateway: Lambda behind API Gateway, rotating provider key pools, health alarms',
    settings: parseSettings((key) => app.node.tryGetContext(key)),
  });
  return { app, stack };
}
