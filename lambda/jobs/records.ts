import { BufferedOperation, Created, JobAdapter, JobRecord, KeyCredential, Log, RotationResult } from '../domain';
import { checkMediaUrl } from './media-url';
import type { PollAnswer } from './poll';

/** What the record-building helpers need of the service's settings. */
export interface RecordSettings {
  /** How long an `unknown` job the provider does not know stays unknown (its creation may still be arriving). */
  unknownGraceMs: number;
  /** Extra media hosts (`MEDIA_URL_HOSTS`). */
  mediaUrlHosts: readonly string[];
}

const INVALID_MEDIA = { code: 'invalid_media_url', message: 'The provider returned a result URL that is not on an allowed media host, so it is not served.' };

/**
 * Wraps a creation operation to remember the key of the last request it built and whether an
 * answer to it arrived: when the rotation loop gives up on an attempt whose outcome is unknown,
 * this says which key may own a task at the provider.
 */
export function trackAnswers(op: BufferedOperation<Created>): { op: BufferedOperation<Created>; unanswered(): KeyCredential | undefined } {
  let last: KeyCredential | undefined;
  let answered = false;
  return {
    op: {
      ...op,
      request: (key) => {
        last = key;
        answered = false;
        return op.request(key);
      },
      classify: (a, now) => {
        answered = true;
        return op.classify(a, now);
      },
    },
    unanswered: () => (answered ? undefined : last),
  };
}

/** The creation's outcome as a job to record: served, or lost after sending to a provider that can find it by our id. */
export function createdOrLost(r: RotationResult<Created>, adapter: JobAdapter<unknown>, lostKey: KeyCredential | undefined): { created: Created; keyId: string; keyFingerprint: string } | undefined {
  if (r.ok) return { created: r.value, keyId: r.keyId, keyFingerprint: r.keyFingerprint };
  const lost = r.failure.kind === 'outcome_unknown' || r.failure.kind === 'deadline_exceeded';
  if (!lost || !lostKey || !adapter.findsByJobId) return undefined;
  return { created: { status: 'unknown' }, keyId: lostKey.id, keyFingerprint: lostKey.fingerprint };
}

/** A job whose creating key may read it: a job with an owner answers only to that API key (records from before owners: to any). */
export function ownedBy(job: JobRecord, apiKeyId: string | undefined): boolean {
  return job.apiKeyId === undefined || job.apiKeyId === apiKeyId;
}

/**
 * The record after one poll, or undefined when nothing is to be written (the provider could not
 * say; or an `unknown` job's task is not found yet, within the grace period). A completed job's
 * URL is checked here, before it is stored: one the media policy refuses fails the job.
 */
export function settle(job: JobRecord, answer: PollAnswer, now: number, adapter: JobAdapter<unknown>, s: RecordSettings, log: Log): JobRecord | undefined {
  if (!answer) return undefined;
  const base = { ...job, lastRefreshAt: now };
  if ('absent' in answer) {
    if (job.status === 'unknown' && now - job.createdAt < s.unknownGraceMs) return undefined;
    const message = job.status === 'unknown'
      ? 'The provider has no task for this job: its creation request never reached the provider. It is safe to create it again.'
      : 'The provider no longer knows this task.';
    return { ...base, status: 'failed', completedAt: now, error: { code: 'task_not_found', message } };
  }
  if (answer.taskId && !job.providerTaskId) base.providerTaskId = answer.taskId;
  if (answer.status === 'failed') return { ...base, status: 'failed', completedAt: now, error: answer.error };
  if (answer.status !== 'completed') return { ...base, status: answer.status };
  const check = checkMediaUrl(answer.url, adapter.media, s.mediaUrlHosts);
  if (!check.ok) {
    log.warn('job result URL refused; job failed', { jobId: job.id, provider: job.provider, reason: check.reason, host: check.host });
    return { ...base, status: 'failed', completedAt: now, error: INVALID_MEDIA };
  }
  return { ...base, status: 'completed', completedAt: now, url: check.url };
}

/** A stored job as served: a completed job's URL is checked again (the policy may have changed, the record may predate it). */
export function present(job: JobRecord, adapter: JobAdapter<unknown>, s: RecordSettings, log: Log): JobRecord {
  if (job.status !== 'completed') return job;
  const check = checkMediaUrl(job.url, adapter.media, s.mediaUrlHosts);
  if (check.ok) return { ...job, url: check.url };
  log.warn('stored job result URL refused; served as failed', { jobId: job.id, provider: job.provider, reason: check.reason, host: check.host });
  const { url: _url, ...rest } = job;
  return { ...rest, status: 'failed', error: INVALID_MEDIA };
}
