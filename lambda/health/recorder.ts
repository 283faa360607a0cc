import type { ProviderName } from '../domain';
import type { JobEvents, RequestSummary, Telemetry } from '../domain';
import { Counters, emptyCounters, minuteOf } from './counters';
import { bucketOf } from './histogram';

export interface BucketDelta {
  provider: ProviderName;
  /** UTC minute, e.g. `2026-11-26T05:31`. */
  minute: string;
  counters: Counters;
}

/**
 * Aggregates finished requests in memory, per provider per UTC minute. Recording is a few
 * additions on the request path — no I/O; the flusher drains it later.
 */
export class HealthRecorder implements Telemetry, JobEvents {
  private buckets = new Map<string, BucketDelta>();

  requestDone(s: RequestSummary): void {
    const c = this.bucket(s.provider, s.at);
    if (s.queuedMs !== undefined) {
      c.queue[bucketOf(s.queuedMs)] += 1;
      c.queueWaitSumMs += Math.round(s.queuedMs);
    }
    if (s.queueRefused) c.queueRefused += 1;
    // A client that left while queued: its wait counts (above), its request says nothing about the provider.
    if (s.clientGone) return;
    c.requests += 1;
    if (s.served) {
      c.successes += 1;
      c.latencySumMs += Math.round(s.latencyMs);
      c.latency[bucketOf(s.latencyMs)] += 1;
      if (s.ttfbMs !== undefined) c.ttfb[bucketOf(s.ttfbMs)] += 1;
    } else {
      c.failures += 1;
    }
    // A stream cut after its first byte: a failure (above), and counted apart so it can be told
    // from a failure before any answer.
    if (s.streamAborted) c.streamAborted += 1;
    c.rateLimited += s.rateLimited;
    c.rotations += s.rotations;
  }

  /** A request fell back from this provider: counted on it (the request itself is counted where it ran). */
  fellBack(provider: ProviderName, at: number): void {
    this.bucket(provider, at).fallbacks += 1;
  }

  /** A job reached a terminal state (counted once fleet-wide: by the container that stored it). */
  jobDone(provider: ProviderName, completed: boolean, at: number): void {
    const c = this.bucket(provider, at);
    if (completed) c.jobsCompleted += 1;
    else c.jobsFailed += 1;
  }

  private bucket(provider: ProviderName, at: number): Counters {
    const minute = minuteOf(at);
    const key = `${provider}|${minute}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = { provider, minute, counters: emptyCounters() };
      this.buckets.set(key, b);
    }
    return b.counters;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes everything recorded so far. */
  drain(): BucketDelta[] {
    const out = [...this.buckets.values()];
    this.buckets = new Map();
    return out;
  }
}
