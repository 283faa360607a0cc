import type { PoolCounts } from '../keys/key-lease';
import type { Counters } from './counters';
import { percentile } from './histogram';
import type { ProbeSummary } from './probe-summary';

export type HealthStatus = 'healthy' | 'degraded' | 'down';

/**
 * Thresholds of the status function (documented in the README). A window with fewer than
 * `minRequests` requests says nothing about success rate or latency: only keys can make it
 * degraded or down then.
 */
export const STATUS_THRESHOLDS = {
  minRequests: 5,
  /** Below this success rate, with enough traffic: down ("most requests fail"). */
  downBelowSuccessRate: 0.5,
  /** Below this success rate: degraded. */
  degradedBelowSuccessRate: 0.95,
  /** Jobs: with at least this many terminal jobs, a failed share at or above `jobsFailedDegradedAt` is degraded. */
  minTerminalJobs: 5,
  jobsFailedDegradedAt: 0.5,
} as const;

export interface WindowSummary {
  status: HealthStatus;
  reason: string;
  requests: number;
  successes: number;
  failures: number;
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  /** Time to first byte of the served requests (for an answer read whole, its latency). */
  ttfbP50Ms: number | null;
  ttfbP95Ms: number | null;
  /** Requests that waited in the admission queue, and their wait's p95 (null: none waited). */
  queued: number;
  queueP95Ms: number | null;
  /** Requests the queue answered 429 at once; the waits' total (see `meanQueueLength`). */
  queueRefused: number;
  queueWaitSumMs: number;
}

/**
 * healthy / degraded / down, from the window's counters and (when known) the key pool:
 * - down: no key configured or every key disabled; or ≥ minRequests and success rate < 50 %;
 * - degraded: success rate < 95 % or p95 time to first byte (or, without TTFB data, p95 latency)
 *   above the provider's objective (with ≥ minRequests) — the reason says "waiting for keys" when
 *   the admission queue's p95 wait is at least half of that TTFB;
 *   or at least half of ≥ 5 finished jobs failed (`p95ObjectiveMs` is the provider's, from the registry);
 *   or no key available right now because all are cooling; or some keys cooling or disabled;
 * - healthy otherwise.
 *
 * With the key probes' summary (when fresh), status does not wait for traffic: every key failing
 * its probe is down; a key failing, or a quota at its warning level, is degraded; and the reason
 * of a quiet healthy provider is the probes' (`probes ok`). An inconclusive probe (timeout, 5xx,
 * 429) changes no status on its own: it only shows in the reason.
 */
export function statusOf(p95ObjectiveMs: number, w: Counters, keys?: PoolCounts, probes?: ProbeSummary): WindowSummary {
  const t = STATUS_THRESHOLDS;
  const successRate = w.requests > 0 ? w.successes / w.requests : null;
  const p50 = percentile(w.latency, 0.5) ?? null;
  const p95 = percentile(w.latency, 0.95) ?? null;
  const ttfb = { ttfbP50Ms: percentile(w.ttfb, 0.5) ?? null, ttfbP95Ms: percentile(w.ttfb, 0.95) ?? null };
  const queue = { queued: w.queue.reduce((a, b) => a + b, 0), queueP95Ms: percentile(w.queue, 0.95) ?? null, queueRefused: w.queueRefused, queueWaitSumMs: w.queueWaitSumMs };
  const base = { requests: w.requests, successes: w.successes, failures: w.failures, successRate, p50Ms: p50, p95Ms: p95, ...ttfb, ...queue };
  const enough = w.requests >= t.minRequests;
  const out = (status: HealthStatus, reason: string): WindowSummary => ({ status, reason, ...base });

  if (keys && (keys.total === 0 || keys.disabled === keys.total)) return out('down', keys.total === 0 ? 'no key configured' : 'every key disabled');
  if (probes && probes.total > 0 && probes.failing === probes.total) return out('down', probes.reason);
  if (enough && successRate !== null && successRate < t.downBelowSuccessRate) return out('down', 'most requests fail');
  if (enough && successRate !== null && successRate < t.degradedBelowSuccessRate) return out('degraded', 'success rate below 95%');
  // The objective is on time to first byte: a 4-minute audio stream is a normal request, not a slow
  // one. Windows without TTFB data (written before it was recorded) fall back to total latency.
  if (enough && ttfb.ttfbP95Ms !== null && ttfb.ttfbP95Ms > p95ObjectiveMs) return out('degraded', waitingForKeys(queue.queueP95Ms, ttfb.ttfbP95Ms) ? 'p95 time to first byte above objective: waiting for keys' : 'p95 time to first byte above objective');
  if (enough && ttfb.ttfbP95Ms === null && p95 !== null && p95 > p95ObjectiveMs) return out('degraded', 'p95 latency above objective');
  const terminal = w.jobsCompleted + w.jobsFailed;
  if (terminal >= t.minTerminalJobs && w.jobsFailed / terminal >= t.jobsFailedDegradedAt) return out('degraded', 'generations failing');
  if (keys && keys.available === 0) return out('degraded', 'every key cooling');
  if (keys && (keys.cooling > 0 || keys.disabled > 0)) return out('degraded', 'some keys cooling or disabled');
  if (probes && (probes.quotaHot > 0 || probes.failing > 0)) return out('degraded', probes.reason);
  return out('healthy', enough ? 'within objectives' : probes ? probes.reason : 'little or no traffic');
}

/**
 * Time to first byte includes the admission queue: when the queue's p95 wait is most of it, the
 * provider is not slow — the keys lack capacity for the traffic (more keys, or higher limits).
 */
function waitingForKeys(queueP95Ms: number | null, ttfbP95Ms: number): boolean {
  return queueP95Ms !== null && queueP95Ms >= ttfbP95Ms / 2;
}

/**
 * The mean number of requests waiting in the admission queue over a span (Little's law: total
 * wait / span), fleet-wide — the sum of every container's waits, where a per-container length
 * would say little (in Lambda a container serves one request at a time).
 */
export function meanQueueLength(w: Pick<Counters, 'queueWaitSumMs'>, spanMs: number): number {
  return spanMs > 0 ? Math.round((w.queueWaitSumMs / spanMs) * 100) / 100 : 0;
}
