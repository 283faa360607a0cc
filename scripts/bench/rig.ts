/**
 * Process rigs for the comparative benchmarks: a sandbox child, our gateway child wired to it and
 * to a DynamoDB endpoint, and the environment that wiring needs.
 */
import type { Vendor } from '../sandbox';
import { forkTs, TsChild } from './procs';
import type { SandboxChildInfo } from './sandbox-child';
import type { GatewayChildInfo } from './gateway-child';

export type SandboxChild = TsChild<SandboxChildInfo>;
export type GatewayChild = TsChild<GatewayChildInfo>;

export function startSandboxChild(opts: Record<string, unknown> = {}): Promise<SandboxChild> {
  return forkTs<SandboxChildInfo>('sandbox-child.ts', { BENCH_SANDBOX: JSON.stringify(opts) });
}

/**
 * Gateway environment: every vendor pointed at the sandbox (so the gateway starts no sandbox of
 * its own), with `keys` overriding a vendor's pool; `extra` last.
 */
export function gatewayEnv(sb: SandboxChildInfo, dynamoEndpoint: string, keys: Partial<Record<Vendor, string[]>>, extra: Record<string, string> = {}): Record<string, string> {
  const pool = (v: Vendor) => (keys[v] ?? sb.defaultKeys[v]).join(',');
  return {
    DYNAMODB_ENDPOINT: dynamoEndpoint,
    OPENAI_API_KEYS: pool('openai'),
    ELEVENLABS_API_KEYS: pool('elevenlabs'),
    FAL_KEYS: pool('fal'),
    KLING_API_KEYS: pool('kling'),
    OPENAI_BASE_URL: sb.urls.openai,
    ELEVENLABS_BASE_URL: sb.urls.elevenlabs,
    FAL_BASE_URL: sb.urls.fal,
    FAL_QUEUE_BASE_URL: sb.urls.falQueue,
    KLING_BASE_URL: sb.urls.kling,
    HEALTH_RECORDING: 'on',
    // Key probes off: benchmarks measure the request path.
    PROBE_INTERVAL_MS: '0',
    ...extra,
  };
}

export function startGatewayChild(env: Record<string, string>, needles: readonly string[] = [], execArgv: string[] = []): Promise<GatewayChild> {
  return forkTs<GatewayChildInfo>('gateway-child.ts', env, { needles, execArgv });
}
