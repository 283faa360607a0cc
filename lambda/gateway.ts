import { VENDORS, VENDOR_OF, ProviderId, Vendor, Clock } from './core/types';
import type { AudioResult, ImageRequest, ImagesResult, SpeechRequest } from './core/media';
import type { GatewayConfig } from './config/env';
import { KeyPool } from './keys/key-pool';
import { AttemptObserver, RotationDeps, RotationResult, withRotation } from './core/rotation';
import type { RequestSummary } from './core/tally';
import type { KeyStateChange } from './keys/key-pool';
import type { Log } from './observability/logger';
import type { Operation } from './providers/upstream';
import { openaiImages, openaiSpeech } from './providers/openai';
import { elevenLabsSpeech } from './providers/elevenlabs';
import { falFluxImages } from './providers/fal';

/** Where finished requests go (health recording, metrics). Must not throw or block. */
export interface Telemetry {
  requestDone(summary: RequestSummary): void;
}

export interface GatewayDeps {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  log: Log;
  telemetry?: Telemetry;
  /** Fleet-wide key state (optional): publishes what pools learn, refreshes a vendor's view before a request. */
  keyState?: {
    publish(c: KeyStateChange): void;
    beforeRequest(vendor: Vendor): Promise<void>;
  };
}

export const realTime = {
  clock: Date.now,
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  random: Math.random,
};

/**
 * The gateway's runtime: one key pool per vendor (shared by that vendor's providers) and the
 * operations, each run through the rotation loop. Knows nothing about HTTP.
 */
export class Gateway {
  readonly pools: Record<Vendor, KeyPool>;
  private readonly rotationDeps: RotationDeps;

  constructor(
    readonly config: GatewayConfig,
    readonly deps: GatewayDeps,
  ) {
    this.pools = {} as Record<Vendor, KeyPool>;
    for (const v of VENDORS) this.pools[v] = new KeyPool(v, config.keys[v], deps.clock, config.cooldown, deps.keyState?.publish);
    this.rotationDeps = { clock: deps.clock, sleep: deps.sleep, random: deps.random, log: deps.log };
  }

  /** Applies a new key list per vendor (e.g. the secret was updated); returns the vendors that changed. */
  updateKeys(keys: Record<Vendor, string[]>): Vendor[] {
    const changed: Vendor[] = [];
    for (const v of VENDORS) {
      if (this.pools[v].holds(keys[v])) continue;
      this.pools[v] = this.pools[v].rebuilt(keys[v]);
      changed.push(v);
    }
    return changed;
  }

  poolOf(provider: ProviderId): KeyPool {
    return this.pools[VENDOR_OF[provider]];
  }

  async run<T>(provider: ProviderId, op: Operation<T>, deadline: number, observer?: AttemptObserver): Promise<RotationResult<T>> {
    await this.deps.keyState?.beforeRequest(VENDOR_OF[provider]);
    return withRotation(provider, op, this.poolOf(provider), deadline, this.config.rotation, this.rotationDeps, observer);
  }

  speech(provider: ProviderId, req: SpeechRequest, deadline: number, observer?: AttemptObserver): Promise<RotationResult<AudioResult>> {
    const urls = this.config.baseUrls;
    const op = provider === 'elevenlabs-tts' ? elevenLabsSpeech(urls.elevenlabs, req) : openaiSpeech(urls.openai, req);
    return this.run(provider, op, deadline, observer);
  }

  images(provider: ProviderId, req: ImageRequest, deadline: number, observer?: AttemptObserver): Promise<RotationResult<ImagesResult>> {
    const urls = this.config.baseUrls;
    const op = provider === 'fal-flux' ? falFluxImages(urls.fal, req) : openaiImages(urls.openai, req);
    return this.run(provider, op, deadline, observer);
  }
}
