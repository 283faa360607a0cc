import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApp } from '../../lib/app';
import type { Sandbox } from '../../scripts/sandbox';
import { cdkJsonContext } from '../infra/synth';
import { LambdaEnvironment, LambdaEnvironmentOptions } from './driver';
import { REPO_ROOT } from './install';

/**
 * The gateway function exactly as `cdk synth` builds it: the app from lib/app.ts with cdk.json's
 * context and real esbuild bundling (no `aws:cdk:bundling-stacks` skip), its asset copied into a
 * task root, and the environment variables its template gives the function.
 */
export interface SynthesizedFunction {
  /** Temp folder holding the task root (and the SDK link beside it). */
  base: string;
  /** The bundle (index.mjs + index.mjs.map) in a task root of its own. */
  taskRoot: string;
  handler: string;
  runtime: string;
  memoryMb: number;
  timeoutMs: number;
  /** The template's environment, references resolved to the physical names they stand for. */
  env: Record<string, string>;
  /** Variables the template sets that cannot be served here (left out of `env`). */
  unresolved: Record<string, unknown>;
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

let synthesized: SynthesizedFunction | undefined;

/** Synthesises once per test module (about 10 s: esbuild plus cdk-nag). */
export function synthGatewayFunction(): SynthesizedFunction {
  if (synthesized) return synthesized;
  const { app, stack } = createApp({ context: cdkJsonContext(), builtinCloudFormationValidation: false });
  const assembly = app.synth();
  const template = assembly.getStackArtifact(stack.artifactId).template as { Resources: Record<string, CfnResource> };
  const resources = template.Resources;
  const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.FunctionName === 'nanobot');
  if (fns.length !== 1) throw new Error(`expected one AWS::Lambda::Function named nanobot, found ${fns.length}`);
  const props = fns[0].Properties!;
  const s3Key = (props.Code as { S3Key?: unknown }).S3Key;
  if (typeof s3Key !== 'string' || !s3Key.endsWith('.zip')) throw new Error(`unexpected Code.S3Key ${JSON.stringify(s3Key)}`);
  const assetDir = path.join(assembly.directory, `asset.${s3Key.slice(0, -'.zip'.length)}`);
  if (!fs.existsSync(path.join(assetDir, 'index.mjs'))) throw new Error(`no bundled index.mjs in ${assetDir}`);

  // The task root holds the asset and nothing else. Lambda's Node.js runtime provides the AWS SDK
  // v3 the bundle leaves external; here the project's copy stands in for it, one level up.
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nanobot-task-'));
  const taskRoot = path.join(base, 'task');
  fs.cpSync(assetDir, taskRoot, { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(base, 'node_modules'), 'dir');
  // The cloud assembly (in the temp dir) is not needed past this point; the task root goes in
  // removeSynthesized().
  fs.rmSync(assembly.directory, { recursive: true, force: true });

  const env: Record<string, string> = {};
  const unresolved: Record<string, unknown> = {};
  const vars = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {});
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v === 'string') env[k] = v;
    else {
      const name = physicalName(v, resources);
      if (name !== undefined) env[k] = name;
      else unresolved[k] = v;
    }
  }
  synthesized = {
    base,
    taskRoot,
    handler: String(props.Handler),
    runtime: String(props.Runtime),
    memoryMb: Number(props.MemorySize ?? 128),
    timeoutMs: Number(props.Timeout ?? 3) * 1000,
    env,
    unresolved,
  };
  return synthesized;
}

/** Deletes the task root of synthGatewayFunction() (call in afterAll). */
export function removeSynthesized(): void {
  if (synthesized) fs.rmSync(synthesized.base, { recursive: true, force: true });
  synthesized = undefined;
}

/** `{Ref: X}` of a resource with a fixed physical name (the table): that name. */
function physicalName(v: unknown, resources: Record<string, CfnResource>): string | undefined {
  const ref = (v as { Ref?: unknown }).Ref;
  if (typeof ref !== 'string') return undefined;
  const r = resources[ref];
  if (r?.Type === 'AWS::DynamoDB::GlobalTable' || r?.Type === 'AWS::DynamoDB::Table') {
    const name = r.Properties?.TableName;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}

export interface GatewayFunctionOptions {
  sandbox: Sandbox;
  dynamoEndpoint: string;
  /** Provider keys, as the environment's *_KEYS variables (the deployed stack reads them from its secret). */
  keys: Partial<Record<'openai' | 'elevenlabs' | 'fal' | 'kling', string[]>>;
  /** Overrides, e.g. OPENAI_BASE_URL pointing at another upstream. */
  env?: Record<string, string>;
  echo?: boolean;
  runtimeApi?: LambdaEnvironmentOptions['runtimeApi'];
}

/** The synthesized gateway under aws-lambda-ric, configured for the sandbox and dynalite. */
export async function startGatewayFunction(o: GatewayFunctionOptions): Promise<{ fn: LambdaEnvironment; synth: SynthesizedFunction }> {
  const synth = synthGatewayFunction();
  const fn = await LambdaEnvironment.start({
    taskRoot: synth.taskRoot,
    handler: synth.handler,
    memoryMb: synth.memoryMb,
    echo: o.echo,
    runtimeApi: { timeoutMs: synth.timeoutMs, ...o.runtimeApi },
    env: {
      ...synth.env,
      DYNAMODB_ENDPOINT: o.dynamoEndpoint,
      OPENAI_BASE_URL: o.sandbox.urls.openai,
      ELEVENLABS_BASE_URL: o.sandbox.urls.elevenlabs,
      FAL_BASE_URL: o.sandbox.urls.fal,
      FAL_QUEUE_BASE_URL: o.sandbox.urls.falQueue,
      KLING_BASE_URL: o.sandbox.urls.kling,
      ...(o.keys.openai ? { OPENAI_API_KEYS: o.keys.openai.join(',') } : {}),
      ...(o.keys.elevenlabs ? { ELEVENLABS_API_KEYS: o.keys.elevenlabs.join(',') } : {}),
      ...(o.keys.fal ? { FAL_KEYS: o.keys.fal.join(',') } : {}),
      ...(o.keys.kling ? { KLING_API_KEYS: o.keys.kling.join(',') } : {}),
      ...o.env,
    },
  });
  return { fn, synth };
}
