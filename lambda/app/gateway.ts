import { setTimeout as sleep } from 'node:timers/promises';
import { FAILURE_STATUS, ImageRequest, Log, MediaStream, Operation, Redactor, RotationResult, SpeechRequest, Telemetry, Transport } from '../domain';
import type { GatewayConfig } from '../config/env';
import type { KeyPool } from '../keys/key-pool';
import type { KeyPools } from '../keys/pools';
import { rotationLog } from '../observability/rotation-log';
import { imageProviderFor, ProviderId, speechProviderFor, vendorOf } from '../providers/registry';
import type { ImageProvider, SpeechProvider } from '../providers/types';
import { fanOut, RotationEvents } from '../rotation/events';
import { AdmissionQueue } from '../rotation/admission-queue';
import { RotationDeps, withRotation } from '../rotation/loop';
import { RequestTally } from '../rotation/tally';
import { Fallbacks, Served } from './fallback';
import { meter } from './meter';

export interface GatewayDeps {
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  log: Log;
  /** How requests reach providers. */
  transport: Transport;
  telemetry?: Telemetry;
  /** Fleet-wide key state (optional): refreshes a vendor's view before a request. */
  keyState?: { beforeRequest(vendor: string): Promise<void> };
  /** Applied to the provider's code a failure carries, before it is answered or logged. */
  redactor: Redactor;
  /** Fallback chains (none: every request stays on its model's provider). */
  fallbacks?: Fallbacks;
}

/** How a client narrowed the fallback chain (`x-nanobot-fallback`). */
export interface RunOptions {
  fallback?: string;
}

/** A request's own say over its queue wait (`x-nanobot-max-wait-ms`), and its client going away. */
export interface WaitOptions {
  maxWaitMs?: number;
  signal?: AbortSignal;
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
    this.rotationDeps = { clock: deps.clock, sleep: deps.sleep, random: deps.random, transport: deps.transport };
    this.log = rotationLog(deps.log);
  }

  /** Each pool's admission queue (a pool rebuilt for a new key list gets a new one). */
  private readonly queues = new WeakMap<KeyPool, AdmissionQueue>();

  private queueOf(pool: KeyPool): AdmissionQueue | undefined {
    if (this.config.admission.maxQueueLength === 0) return undefined;
    let q = this.queues.get(pool);
    if (!q) {
      // The fleet's key state is applied before waiters are released onto a key back from a cooldown.
      const fleet = this.deps.keyState && (() => this.deps.keyState!.beforeRequest(pool.vendor));
      this.queues.set(pool, (q = new AdmissionQueue(pool, this.config.admission, this.deps.clock, undefined, fleet)));
    }
    return q;
  }

  /** Requests of this provider waiting in this instance's admission queue now. */
  waiting(provider: ProviderId): number {
    return this.queues.get(this.poolOf(provider))?.lengthOf(provider) ?? 0;
  }

  poolOf(provider: ProviderId): KeyPool {
    return this.pools.get(vendorOf(provider));
  }

  /** Runs an operation whose result is read whole; recorded once it is known. */
  async run<T>(provider: ProviderId, op: Operation<T>, deadline: number, wait?: WaitOptions): Promise<RotationResult<T>> {
    const { r, done } = await this.rotate(provider, op, deadline, wait);
    done(r.ok, this.deps.clock());
    return r;
  }

  /**
   * Runs an operation whose result streams: answered from the first byte, recorded when the body
   * ends — served, or aborted mid-stream (a failure for health: `streamAborted`).
   */
  async stream(provider: ProviderId, op: Operation<MediaStream>, deadline: number, wait?: WaitOptions): Promise<RotationResult<MediaStream>> {
    const { r, done } = await this.rotate(provider, op, deadline, wait);
    if (!r.ok) {
      done(false, this.deps.clock());
      return r;
    }
    const body = meter(r.value.body, this.deps.clock, (m) => {
      r.finish?.();
      if (m.error) this.deps.log.warn('stream aborted', { provider, key: r.keyId, bytes: m.bytes, error: m.error });
      done(!m.error, m.firstByteAt, m.error !== undefined);
    });
    return { ...r, value: { ...r.value, body } };
  }

  private async rotate<T>(provider: ProviderId, op: Operation<T>, deadline: number, wait: WaitOptions = {}) {
    const started = this.deps.clock();
    await this.deps.keyState?.beforeRequest(vendorOf(provider));
    const tally = new RequestTally(provider);
    const pool = this.poolOf(provider);
    const queue = this.queueOf(pool);
    const r = await withRotation(provider, op, pool, deadline, this.config.rotation, this.rotationDeps, fanOut(this.log, tally), queue && { queue, ...wait });
    // A provider's code is allow-listed by its classifier already; this is the second line.
    if (!r.ok && 'code' in r.failure && r.failure.code !== undefined) r.failure.code = this.deps.redactor.redact(r.failure.code);
    const failure = r.ok ? undefined : r.failure;
    // Left the queue because its client went away: no attempt, nothing learnt about the provider.
    const clientGone = failure !== undefined && r.attempts === 0 && wait.signal?.aborted === true;
    /** Records the request (unless the provider refused it as malformed: the client's fault, not the provider's health). */
    const done = (served: boolean, firstByteAt: number | undefined, streamAborted = false) => {
      if (failure?.kind === 'upstream_rejected') return;
      const at = this.deps.clock();
      const status = failure ? FAILURE_STATUS[failure.kind] : 200;
      const ttfbMs = served && firstByteAt !== undefined ? firstByteAt - started : undefined;
      this.deps.telemetry?.requestDone(tally.summary({ served, status, latencyMs: at - started, attempts: r.attempts, failure, at, ttfbMs, streamAborted, clientGone }));
    };
    return { r, done };
  }

  /** Speech on its provider, or (configured, and it cannot serve) on the first alternative of its chain that can. */
  speech(provider: SpeechProvider<ProviderId>, req: SpeechRequest, deadline: number, opts: RunOptions & WaitOptions = {}): Promise<Served> {
    const run = (c: { provider: ProviderId; req: SpeechRequest }) => this.stream(c.provider, (c.provider === provider.id ? provider : (speechProviderFor(c.req.model) as SpeechProvider<ProviderId>)).operation(this.config.baseUrls, c.req), deadline, opts);
    const fb = this.deps.fallbacks;
    if (!fb) return run({ provider: provider.id, req }).then((r) => ({ ...r, provider: provider.id }));
    const map = (alt: string) => {
      const target = speechProviderFor(alt) as SpeechProvider<ProviderId>; // every chain model was checked at start-up
      return { provider: target.id, model: alt, req: target.validate({ ...target.adopt(req, alt, { voices: fb.voices }), model: alt }) };
    };
    return fb.serve({ provider: provider.id, model: req.model, req }, fb.chain(req.model, opts.fallback), deadline, map, run, opts.signal);
  }

  /** Images, as speech: on the model's provider or a configured alternative. */
  images(provider: ImageProvider<ProviderId>, req: ImageRequest, deadline: number, opts: RunOptions & WaitOptions = {}): Promise<Served> {
    const run = (c: { provider: ProviderId; req: ImageRequest }) => this.stream(c.provider, (c.provider === provider.id ? provider : (imageProviderFor(c.req.model) as ImageProvider<ProviderId>)).operation(this.config.baseUrls, c.req), deadline, opts);
    const fb = this.deps.fallbacks;
    if (!fb) return run({ provider: provider.id, req }).then((r) => ({ ...r, provider: provider.id }));
    const map = (alt: string) => {
      const target = imageProviderFor(alt) as ImageProvider<ProviderId>;
      return { provider: target.id, model: alt, req: target.validate({ ...target.adopt(req, alt, { voices: fb.voices }), model: alt }) };
    };
    return fb.serve({ provider: provider.id, model: req.model, req }, fb.chain(req.model, opts.fallback), deadline, map, run, opts.signal);
  }
}
