import { VENDORS, VENDOR_OF, ProviderId, Vendor, Clock } from './core/types';
import type { AudioResult, ImageRequest, ImagesResult, SpeechRequest } from './core/media';
import type { GatewayConfig } from './config/env';
import { KeyPool } from './keys/key-pool';
import { AttemptObserver, RotationDeps, RotationResult, withRotation } from './core/rotation';
import type { Log } from './observability/logger';
import type { Operation } from './providers/upstream';
import { openaiImages, openaiSpeech } from './providers/openai';
import { elevenLabsSpeech } from './providers/elevenlabs';
import { falFluxImages } from './providers/fal';

/** One request's outcome, as health recording sees it (validated requests only). */
export interface RequestEvent {
  provider: ProviderId;
  served: boolean;
  status: number;
  latencyMs: number;
  attempts: number;
}

export interface GatewayObserver extends AttemptObserver {
  request?(e: RequestEvent): void;
}

export interface GatewayDeps {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  log: Log;
  observer?: GatewayObserver;
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
    for (const v of VENDORS) this.pools[v] = new KeyPool(v, config.keys[v], deps.clock, config.cooldown);
    this.rotationDeps = { clock: deps.clock, sleep: deps.sleep, random: deps.random, log: deps.log, observer: deps.observer };
  }

  poolOf(provider: ProviderId): KeyPool {
    return this.pools[VENDOR_OF[provider]];
  }

  run<T>(provider: ProviderId, op: Operation<T>, deadline: number): Promise<RotationResult<T>> {
    return withRotation(provider, op, this.poolOf(provider), deadline, this.config.rotation, this.rotationDeps);
  }

  speech(provider: ProviderId, req: SpeechRequest, deadline: number): Promise<RotationResult<AudioResult>> {
    const urls = this.config.baseUrls;
    const op = provider === 'elevenlabs-tts' ? elevenLabsSpeech(urls.elevenlabs, req) : openaiSpeech(urls.openai, req);
    return this.run(provider, op, deadline);
  }

  images(provider: ProviderId, req: ImageRequest, deadline: number): Promise<RotationResult<ImagesResult>> {
    const urls = this.config.baseUrls;
    const op = provider === 'fal-flux' ? falFluxImages(urls.fal, req) : openaiImages(urls.openai, req);
    return this.run(provider, op, deadline);
  }
}
