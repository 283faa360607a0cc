import { emptyHistogram } from './histogram';

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
  /** Counts per latency bucket (served requests), aligned with LATENCY_ATTRS. */
  latency: number[];
}

export const COUNTER_ATTRS = ['requests', 'successes', 'failures', 'rateLimited', 'rotations', 'latencySumMs', 'jobsCompleted', 'jobsFailed'] as const;

export function emptyCounters(): Counters {
  return { requests: 0, successes: 0, failures: 0, rateLimited: 0, rotations: 0, latencySumMs: 0, jobsCompleted: 0, jobsFailed: 0, latency: emptyHistogram() };
}

/** a += b, in place. */
export function addInto(a: Counters, b: Counters): Counters {
  for (const k of COUNTER_ATTRS) a[k] += b[k];
  for (let i = 0; i < a.latency.length; i++) a.latency[i] += b.latency[i] ?? 0;
  return a;
}

/** `2026-11-26T05:31`: the UTC minute of an epoch-ms time (sorts lexicographically). */
export function minuteOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}
