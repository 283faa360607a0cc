import type { ProviderId } from './types';
import type { AttemptEvent, AttemptObserver, Failure, RotationEvent } from './rotation';

/** What one client request amounted to, for health recording and metrics. */
export interface RequestSummary {
  provider: ProviderId;
  /** Served to the client (2xx). */
  served: boolean;
  status: number;
  /** End-to-end time in the gateway, rotations and waits included. */
  latencyMs: number;
  attempts: number;
  /** Upstream answers with HTTP 429 (rate limits, and quota or busy answers sent as 429). */
  rateLimited: number;
  rotations: number;
  keysDisabled: number;
  /** Refused because every key was cooling, or none was usable. */
  allKeysExhausted: boolean;
  /** Latency of each upstream attempt that answered. */
  upstreamLatencyMs: number[];
  /** When the request finished (epoch ms). */
  at: number;
}

/** Collects one request's attempt events, in the order the rotation loop reports them. */
export class RequestTally implements AttemptObserver {
  rateLimited = 0;
  rotations = 0;
  keysDisabled = 0;
  readonly upstreamLatencyMs: number[] = [];

  constructor(readonly provider: ProviderId) {}

  attempt(e: AttemptEvent): void {
    if (e.status === 429) this.rateLimited += 1;
    if (e.status !== undefined) this.upstreamLatencyMs.push(e.latencyMs);
  }

  rotation(_e: RotationEvent): void {
    this.rotations += 1;
  }

  keyDisabled(): void {
    this.keysDisabled += 1;
  }

  summary(r: { served: boolean; status: number; latencyMs: number; attempts: number; failure?: Failure; at: number }): RequestSummary {
    return {
      provider: this.provider,
      served: r.served,
      status: r.status,
      latencyMs: r.latencyMs,
      attempts: r.attempts,
      rateLimited: this.rateLimited,
      rotations: this.rotations,
      keysDisabled: this.keysDisabled,
      allKeysExhausted: r.failure?.kind === 'all_keys_cooling' || r.failure?.kind === 'no_usable_key',
      upstreamLatencyMs: this.upstreamLatencyMs,
      at: r.at,
    };
  }
}
