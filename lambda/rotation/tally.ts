import type { Failure, ProviderName, RequestSummary } from '../domain';
import type { AttemptEvent, RotationEvents } from './events';

/** Collects one request's rotation events into its summary for health recording and metrics. */
export class RequestTally implements RotationEvents {
  rateLimited = 0;
  rotations = 0;
  keysDisabled = 0;
  readonly upstreamLatencyMs: number[] = [];

  constructor(readonly provider: ProviderName) {}

  attempt(e: AttemptEvent): void {
    if (e.status === 429) this.rateLimited += 1;
    if (e.status !== undefined) this.upstreamLatencyMs.push(e.latencyMs);
  }

  rotated(): void {
    this.rotations += 1;
  }

  keyDisabled(): void {
    this.keysDisabled += 1;
  }

  /** Time in the admission queue, all its waits together (undefined: never waited). */
  queuedMs?: number;
  /** The queue answered 429 at once: full, or no start possible within the allowed wait. */
  queueRefused = false;

  queued(e: { waitedMs: number; outcome: string }): void {
    if (e.outcome === 'queue_full' || e.outcome === 'wait_too_long') {
      this.queueRefused = true;
      // Refused on arrival: no wait to count.
      if (e.waitedMs === 0) return;
    }
    this.queuedMs = (this.queuedMs ?? 0) + e.waitedMs;
  }

  summary(r: { served: boolean; status: number; latencyMs: number; attempts: number; failure?: Failure; at: number; ttfbMs?: number; streamAborted?: boolean; clientGone?: boolean }): RequestSummary {
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
      ...(r.ttfbMs !== undefined ? { ttfbMs: r.ttfbMs } : {}),
      ...(r.streamAborted ? { streamAborted: true } : {}),
      ...(this.queuedMs !== undefined ? { queuedMs: this.queuedMs } : {}),
      ...(this.queueRefused ? { queueRefused: true } : {}),
      ...(r.clientGone ? { clientGone: true } : {}),
    };
  }
}
