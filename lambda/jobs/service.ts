import {
  Clock, Created, errorFields, isTerminal, JobAdapter, JobEvents, JobRecord, KeyCredential, Log, MalformedAnswer, Operation,
  PollResult, Redactor, RotationResult, Transport, TransportError, UpstreamRequest,
} from '../domain';
import type { KeyPool } from '../keys/key-pool';
import { JobStore, newJobId } from './store';

/** Where job creation runs: the gateway's rotation loop (which also records it for health). */
export interface JobRunner {
  run(provider: string, op: Operation<Created>, deadline: number): Promise<RotationResult<Created>>;
}

export interface JobDeps {
  runner: JobRunner;
  /** The key pool of a provider's vendor (the creating key is looked up there by fingerprint). */
  poolOf(provider: string): KeyPool;
  transport: Transport;
  clock: Clock;
  log: Log;
  events?: JobEvents;
  /** Applied to what a provider says about a failed job before it is stored or shown (its text may echo a key). */
  redactor: Redactor;
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

  private readonly clock: Clock;
  private readonly log: Log;

  constructor(
    private readonly store: JobStore,
    private readonly settings: JobSettings,
    private readonly deps: JobDeps,
  ) {
    this.clock = deps.clock;
    this.log = deps.log;
  }

  async create<Req extends { model: string; prompt: string }>(
    adapter: JobAdapter<Req>,
    req: Req,
    meta: { seconds: string; size?: string },
    deadline: number,
  ): Promise<RotationResult<JobRecord>> {
    const id = newJobId(adapter.object);
    const r = await this.deps.runner.run(adapter.provider, adapter.create(req, id), deadline);
    if (!r.ok) return r;
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
      // The lease's own fingerprint: never looked up again in a pool that may have been rebuilt.
      keyFingerprint: r.keyFingerprint,
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
      this.log.error('job record not stored yet; kept in memory', { jobId: job.id, provider: job.provider, key: job.keyId, ...errorFields(err) });
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

  /** A job by id, if one of these adapters' providers made it; refreshed from the provider when due. */
  async get(adapters: readonly JobAdapter<unknown>[], id: string): Promise<GetOutcome> {
    const unsaved = this.unsaved.get(id);
    const job = unsaved ?? (await this.store.get(id));
    const adapter = job && adapters.find((a) => a.provider === job.provider);
    if (!job || !adapter) return { missing: true };
    const now = this.clock();
    if (isTerminal(job.status) || now - job.lastRefreshAt < this.settings.minPollIntervalMs) return { job, calls: 0 };
    const lease = keyFor(this.deps.poolOf(job.provider), job);
    if (!lease) return { keyUnavailable: true, job };
    const counter = { calls: 0 };
    const result = await this.poll(adapter, job, lease, counter);
    if (!result) return { job, calls: counter.calls }; // transient trouble: the last known state
    const next: JobRecord = { ...job, status: result.status, lastRefreshAt: this.clock() };
    if (result.status === 'completed') {
      next.url = result.url;
      next.completedAt = next.lastRefreshAt;
    } else if (result.status === 'failed') {
      const r = this.deps.redactor;
      next.error = { code: r.redact(result.error.code), message: r.redact(result.error.message) };
      next.completedAt = next.lastRefreshAt;
    }
    if (unsaved) {
      // Not in the store yet: the in-memory record is the record (saved, newest state, by flushUnsaved).
      this.unsaved.set(id, next);
      if (isTerminal(next.status)) this.deps.events?.jobDone(next.provider, next.status === 'completed', next.lastRefreshAt);
      return { job: next, calls: counter.calls };
    }
    const won = await this.store.transition(next, job.status);
    if (!won) return { job: (await this.store.get(id)) ?? next, calls: counter.calls };
    if (isTerminal(next.status)) this.deps.events?.jobDone(next.provider, next.status === 'completed', next.lastRefreshAt);
    return { job: next, calls: counter.calls };
  }

  /** One poll with the creating key; undefined when the provider could not say (serve the stored state). */
  private async poll(adapter: JobAdapter<unknown>, job: JobRecord, lease: KeyCredential, counter: { calls: number }): Promise<PollResult | undefined> {
    const plan = adapter.poll(job, lease);
    const deadline = this.clock() + this.settings.pollTimeoutMs;
    let req: UpstreamRequest = await plan.first;
    for (let step = 0; step < 3; step++) {
      try {
        counter.calls += 1;
        const a = await this.deps.transport.send(req, Math.max(1, deadline - this.clock()));
        // The vendor's classifier reads every poll answer, as it reads creation's (Kling: a token
        // complaint re-mints the token for the next poll).
        const c = plan.classify(a, Date.now());
        if (c.outcome === 'ok') {
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
        this.log.warn('job poll answered an error; serving the stored state', { jobId: job.id, provider: job.provider, key: job.keyId, status: a.status, outcome: c.outcome, code: c.code });
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
function keyFor(pool: KeyPool, job: JobRecord): KeyCredential | undefined {
  return pool.leaseByFingerprint(job.keyFingerprint);
}
