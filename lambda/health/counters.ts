import { emptyHistogram, LATENCY_ATTRS, QUEUE_ATTRS, TTFB_ATTRS } from './histogram';

/** The additive health figures of one provider over some span (a minute bucket or the window). */
export interface Counters {
  requests: number;
  successes: number;
  failures: number;
  rateLimited: number;
  rotations: number;
  latencySumMs: number;
  /** Jobs (video, audio generation) that reached a terminal state in this span. */
  jobsCompleted: number;
  jobsFailed: number;
  /** Streamed answers that failed after their first byte (also counted in `failures`). */
  streamAborted: number;
  /** Requests that fell back from this provider to another of their chain. */
  fallbacks: number;
  /** Requests the admission queue answered 429 at once (queue full, or no start possible within the allowed wait). */
  queueRefused: number;
  /**
   * Milliseconds requests spent in the admission queue, summed. Over a span of T ms it is the mean
   * number of waiters (Little's law: sum / T), which merges across containers where a point-in-time
   * queue length would not.
   */
  queueWaitSumMs: number;
  /** Counts per latency bucket (served requests), aligned with LATENCY_ATTRS. */
  latency: number[];
  /** Counts per time-to-first-byte bucket (served requests), aligned with TTFB_ATTRS. */
  ttfb: number[];
  /** Counts per queue-wait bucket (requests that waited in the admission queue), aligned with QUEUE_ATTRS. */
  queue: number[];
}

export const COUNTER_ATTRS = ['requests', 'successes', 'failures', 'rateLimited', 'rotations', 'latencySumMs', 'jobsCompleted', 'jobsFailed', 'streamAborted', 'fallbacks', 'queueRefused', 'queueWaitSumMs'] as const;

/** The histograms of a bucket item: the Counters field and its DynamoDB attribute per bucket. */
export const HISTOGRAMS = [
  { field: 'latency', attrs: LATENCY_ATTRS },
  { field: 'ttfb', attrs: TTFB_ATTRS },
  { field: 'queue', attrs: QUEUE_ATTRS },
] as const;

export function emptyCounters(): Counters {
  return {
    requests: 0, successes: 0, failures: 0, rateLimited: 0, rotations: 0, latencySumMs: 0, jobsCompleted: 0, jobsFailed: 0, streamAborted: 0, fallbacks: 0, queueRefused: 0, queueWaitSumMs: 0,
    latency: emptyHistogram(), ttfb: emptyHistogram(), queue: emptyHistogram(),
  };
}

/** a += b, in place. */
export function addInto(a: Counters, b: Counters): Counters {
  for (const k of COUNTER_ATTRS) a[k] += b[k];
  for (const { field } of HISTOGRAMS) for (let i = 0; i < a[field].length; i++) a[field][i] += b[field][i] ?? 0;
  return a;
}

/** `2026-11-26T05:31`: the UTC minute of an epoch-ms time (sorts lexicographically). */
export function minuteOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}
