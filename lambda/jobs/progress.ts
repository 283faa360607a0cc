import type { JobRecord } from '../domain';

/**
 * A progress estimate for clients (0–100). Providers do not report progress, so it is time-based:
 * queued climbs to 10, in progress from 10 towards 95 over the expected generation time, and only
 * a completed job reaches 100. Monotone in time for a given status.
 */
export function progressOf(job: Pick<JobRecord, 'status' | 'createdAt' | 'expectedMs'>, now: number): number {
  if (job.status === 'completed' || job.status === 'failed') return 100;
  // Not known to exist yet: no progress to estimate.
  if (job.status === 'unknown') return 0;
  const f = Math.min(1, Math.max(0, (now - job.createdAt) / job.expectedMs));
  if (job.status === 'queued') return Math.floor(10 * Math.min(1, f * 4));
  return Math.min(95, Math.floor(10 + 85 * f));
}
