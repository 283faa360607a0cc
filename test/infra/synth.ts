import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../lib/app';
import { NanobotStack } from '../../lib/nanobot-stack';

const ROOT = path.join(__dirname, '..', '..');

/** cdk.json's context (feature flags and all), so tests synthesise what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** Skips esbuild bundling (the template is what is under test; bundling has its own test). */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

export interface Synthesized {
  app: App;
  stack: NanobotStack;
  template: Template;
  /** The template as JSON text, for whole-template scans. */
  json: string;
  /** Cloud assembly directory (holds validation-report.json). */
  assemblyDir: string;
}

export interface SynthOptions {
  /** CDK context, as `-c throttleRate=7` would add it (strings, as from the CLI). */
  context?: Record<string, unknown>;
  /**
   * Run aws-cdk-lib's built-in CloudFormation schema validation too, as `cdk synth` does. It takes
   * several seconds, so only the cdk-nag/validation test turns it on; the cdk-nag plugin always runs.
   * @default false
   */
  cfnSchemaValidation?: boolean;
}

/** The app exactly as bin/nanobot.ts builds it (cdk-nag plugin included), synthesised once. */
export function synthNanobot(options: SynthOptions = {}): Synthesized {
  const { app, stack } = createApp({
    context: { ...cdkJsonContext(), ...NO_BUNDLING, ...options.context },
    builtinCloudFormationValidation: options.cfnSchemaValidation ?? false,
  });
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template);
  return { app, stack, template, json: JSON.stringify(template.toJSON()), assemblyDir: assembly.directory };
}

/** Resources of one type, keyed by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}
