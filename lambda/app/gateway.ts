import { setTimeout as sleep } from 'node:timers/promises';
import {
  AudioResult, FAILURE_STATUS, ImageRequest, ImagesResult, Log, Operation, Redactor, RotationResult, SpeechRequest, Telemetry, Transport,
} from '../domain';
import type { GatewayConfig } from '../config/env';
import type { KeyPool } from '../keys/key-pool';
import type { KeyPools } from '../keys/pools';
import { rotationLog } from '../observability/rotation-log';
import { sendUpstream } from '../providers/http/transport';
import { ProviderId, vendorOf } from '../providers/registry';
import type { ImageProvider, SpeechProvider } from '../providers/types';
import { fanOut, RotationEvents } from '../rotation/events';
import { RotationDeps, withRotation } from '../rotation/loop';
import { RequestTally } from '../rotation/tally';

export interface GatewayDeps {
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  log: Log;
  /** How requests reach providers (default: HTTP). */
  transport?: Transport;
  telemetry?: Telemetry;
  /** Fleet-wide key state (optional): refreshes a vendor's view before a request. */
  keyState?: { beforeRequest(vendor: string): Promise<void> };
  /** Applied to the provider's code a failure carries, before it is answered or logged. */
  redactor: Redactor;
}

export const realTime = {
  clock: Date.now,
  sleep: (ms: number) => sleep(ms).then(() => undefined),
  random: Math.random,
};

/**
 * Where requests run: each provider operation goes through its vendor's key pool and the rotation
 * loop, and what it amounted to is recorded here (health, metrics) — once, whoever asked. A
 * request the provider refused as malformed is the client's fault, not the provider's health,
 * and is not recorded. Knows nothing about HTTP.
 */
export class Gateway {
  private readonly rotationDeps: RotationDeps;
  private readonly log: RotationEvents;

  constructor(
    private readonly config: GatewayConfig,
    readonly pools: KeyPools,
    private readonly deps: GatewayDeps,
  ) {
    this.rotationDeps = { clock: deps.clock, sleep: deps.sleep, random: deps.random, transport: deps.transport ?? sendUpstream };
    this.log = rotationLog(deps.log);
  }

  poolOf(provider: ProviderId): KeyPool {
    return this.pools.get(vendorOf(provider));
  }

  async run<T>(provider: ProviderId, op: Operation<T>, deadline: number): Promise<RotationResult<T>> {
    const started = this.deps.clock();
    await this.deps.keyState?.beforeRequest(vendorOf(provider));
    const tally = new RequestTally(provider);
    const r = await withRotation(provider, op, this.poolOf(provider), deadline, this.config.rotation, this.rotationDeps, fanOut(this.log, tally));
    // A provider's code is allow-listed by its classifier already; this is the second line.
    if (!r.ok && 'code' in r.failure && r.failure.code !== undefined) r.failure.code = this.deps.redactor.redact(r.failure.code);
    const failure = r.ok ? undefined : r.failure;
    if (failure?.kind !== 'upstream_rejected') {
      const at = this.deps.clock();
      const status = failure ? FAILURE_STATUS[failure.kind] : 200;
      this.deps.telemetry?.requestDone(tally.summary({ served: r.ok, status, latencyMs: at - started, attempts: r.attempts, failure, at }));
    }
    return r;
  }

  speech(provider: SpeechProvider<ProviderId>, req: SpeechRequest, deadline: number): Promise<RotationResult<AudioResult>> {
    return this.run(provider.id, provider.operation(this.config.baseUrls, req), deadline);
  }

  images(provider: ImageProvider<ProviderId>, req: ImageRequest, deadline: number): Promise<RotationResult<ImagesResult>> {
    return this.run(provider.id, provider.operation(this.config.baseUrls, req), deadline);
  }
}
