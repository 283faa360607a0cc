import type { Clock } from '../core/types';
import type { AttemptObserver, RotationResult } from '../core/rotation';
import type { Gateway } from '../gateway';
import type { KeyPool } from '../keys/key-pool';
import type { Log } from '../observability/logger';
import { MalformedAnswer, TransportError, sendUpstream, UpstreamRequest } from '../providers/upstream';
import { isTerminal, JobAdapter, JobRecord, PollResult } from './types';
import { JobStore, newJobId } from './store';

export interface JobEvents {
  /** A job reached a terminal state (recorded once, by the container that stored the transition). */
  jobDone(provider: JobRecord['provider'], completed: boolean, at: number): void;
}

export interface JobSettings {
  /** A GET refreshes from the provider at most this often per job. */
  minPollIntervalMs: number;
  /** Budget of one poll (one or two upstream requests). */
  pollTimeoutMs: number;
}

/** `calls`: upstream requests this GET made (0 when served from the record). */
export type GetOutcome = { job: JobRecord; calls: number } | { missing: true } | { keyUnavailable: true; job: JobRecord };

/**
 * Jobs: creation through the rotation loop (429 → next key; an attempt whose outcome is unknown
 * is not replayed), records in DynamoDB, and polling that always uses the creating key — looked up
 * by fingerprint, so any container can poll — never rotated, never more often than the minimum
 * interval, and never again once the job is terminal.
 */
export class JobService {
  /** Jobs created upstream whose record could not be stored yet (store down): kept, served, retried. */
  private readonly unsaved = new Map<string, JobRecord>();

  constructor(
    private readonly gw: Gateway,
    private readonly store: JobStore,
    private readonly settings: JobSettings,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly events?: JobEvents,
  ) {}

  async create<Req extends { model: string; prompt: string }>(
    adapter: JobAdapter<Req>,
    req: Req,
    meta: { seconds: string; size?: string },
    deadline: number,
    observer: AttemptObserver,
  ): Promise<RotationResult<JobRecord>> {
    const id = newJobId(adapter.object);
    const r = await this.gw.run(adapter.provider, adapter.create(req, id), deadline, observer);
    if (!r.ok) return r;
    const pool = this.gw.poolOf(adapter.provider);
    const lease = pool.leaseById(r.keyId);
    const now = this.clock();
    const job: JobRecord = {
      id,
      object: adapter.object,
      provider: adapter.provider,
      model: req.model,
      prompt: req.prompt,
      seconds: meta.seconds,
      ...(meta.size ? { size: meta.size } : {}),
      providerTaskId: r.value.providerTaskId,
      keyId: r.keyId,
      keyFingerprint: lease?.fingerprint ?? '',
      ...(r.value.statusUrl ? { statusUrl: r.value.statusUrl, responseUrl: r.value.responseUrl } : {}),
      status: r.value.status,
      createdAt: now,
      lastRefreshAt: now,
      expectedMs: adapter.expectedMs,
    };
    try {
      await this.store.createOnce(job);
    } catch (err) {
      // The task exists and may be charged: never drop it. Keep the record, answer, store it later.
      this.unsaved.set(job.id, job);
      this.log.error('job record not stored yet; kept in memory', { jobId: job.id, provider: job.provider, key: job.keyId, error: err instanceof Error ? err.name : String(err) });
    }
    return { ...r, value: job };
  }

  /** Retries storing records kept in memory (post-response). */
  async flushUnsaved(): Promise<void> {
    for (const job of [...this.unsaved.values()]) {
      try {
        await this.store.createOnce(job);
        this.unsaved.delete(job.id);
      } catch {
        // Store still down (or this record refused): the others may go through; try again next time.
      }
    }
  }

  async get(adapter: JobAdapter<unknown>, id: string): Promise<GetOutcome> {
    const unsaved = this.unsaved.get(id);
    const job = unsaved ?? (await this.store.get(id));
    if (!job || job.provider !== adapter.provider) return { missing: true };
    const now = this.clock();
    if (isTerminal(job.status) || now - job.lastRefreshAt < this.settings.minPollIntervalMs) return { job, calls: 0 };
    const lease = keyFor(this.gw.poolOf(job.provider), job);
    if (!lease) return { keyUnavailable: true, job };
    const counter = { calls: 0 };
    const result = await this.poll(adapter, job, lease, counter);
    if (!result) return { job, calls: counter.calls }; // transient trouble: the last known state
    const next: JobRecord = { ...job, status: result.status, lastRefreshAt: this.clock() };
    if (result.status === 'completed') {
      next.url = result.url;
      next.completedAt = next.lastRefreshAt;
    } else if (result.status === 'failed') {
      next.error = result.error;
      next.completedAt = next.lastRefreshAt;
    }
    if (unsaved) {
      // Not in the store yet: the in-memory record is the record (saved, newest state, by flushUnsaved).
      this.unsaved.set(id, next);
      if (isTerminal(next.status)) this.events?.jobDone(next.provider, next.status === 'completed', next.lastRefreshAt);
      return { job: next, calls: counter.calls };
    }
    const won = await this.store.transition(next, job.status);
    if (!won) return { job: (await this.store.get(id)) ?? next, calls: counter.calls };
    if (isTerminal(next.status)) this.events?.jobDone(next.provider, next.status === 'completed', next.lastRefreshAt);
    return { job: next, calls: counter.calls };
  }

  /** One poll with the creating key; undefined when the provider could not say (serve the stored state). */
  private async poll(adapter: JobAdapter<unknown>, job: JobRecord, lease: NonNullable<ReturnType<typeof keyFor>>, counter: { calls: number }): Promise<PollResult | undefined> {
    const plan = adapter.poll(job, lease);
    const deadline = this.clock() + this.settings.pollTimeoutMs;
    let req: UpstreamRequest = plan.first;
    for (let step = 0; step < 3; step++) {
      try {
        counter.calls += 1;
        const a = await sendUpstream(req, Math.max(1, deadline - this.clock()));
        if (a.status >= 200 && a.status < 300) {
          const r = plan.interpret(a.body, a.status);
          if ('next' in r) {
            req = r.next;
            continue;
          }
          return r;
        }
        if (a.status === 404) return { status: 'failed', error: { code: 'task_not_found', message: 'The provider no longer knows this task.' } };
        // A refused result (fal answers the result of a failed generation with a 4xx/422) ends the job.
        if (step > 0 && a.status >= 400 && a.status < 500 && a.status !== 401 && a.status !== 429) {
          return { status: 'failed', error: { code: 'generation_failed', message: `The provider failed the generation (status ${a.status}).` } };
        }
        this.log.warn('job poll answered an error; serving the stored state', { jobId: job.id, provider: job.provider, key: job.keyId, status: a.status });
        return undefined;
      } catch (err) {
        if (err instanceof TransportError || err instanceof MalformedAnswer) {
          this.log.warn('job poll failed; serving the stored state', { jobId: job.id, provider: job.provider, key: job.keyId, error: err.message });
          return undefined;
        }
        throw err;
      }
    }
    return undefined;
  }
}

/**
 * The creating key, by fingerprint (stable when the key list changes). Never "whatever key is at
 * that position now": another account cannot see the task, and would make it look failed.
 */
function keyFor(pool: KeyPool, job: JobRecord) {
  return job.keyFingerprint ? pool.leaseByFingerprint(job.keyFingerprint) : pool.leaseById(job.keyId);
}
