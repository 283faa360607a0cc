import {
  BufferedOperation, Clock, Created, errorFields, isTerminal, JobAdapter, JobEvents, JobRecord, Log, Redactor, RotationResult, Transport, withTimeout,
} from '../domain';
import type { KeyPool } from '../keys/key-pool';
import { pollOnce } from './poll';
import { createdOrLost, ownedBy, present, RecordSettings, settle, trackAnswers } from './records';
import { SingleFlight } from './single-flight';
import { JobStore, newJobId } from './store';

/** Where job creation runs: the gateway's rotation loop (which also records it for health). */
export interface JobRunner {
  run(provider: string, op: BufferedOperation<Created>, deadline: number): Promise<RotationResult<Created>>;
}

export interface JobDeps {
  runner: JobRunner;
  /** The key pool of a provider's vendor (the creating key is looked up there by fingerprint). */
  poolOf(provider: string): KeyPool;
  transport: Transport;
  clock: Clock;
  log: Log;
  events?: JobEvents;
  /** Scrubs key fragments and key shapes from a failed job's error before it is stored or shown. */
  redactor: Redactor;
}

export interface JobSettings extends RecordSettings {
  /** A job is polled at most this often (the fleet together: one container claims each poll). */
  minPollIntervalMs: number;
  /** Budget of one poll (one or two upstream requests). */
  pollTimeoutMs: number;
}

/** `calls`: upstream requests this GET made (0 when served from the record or from another GET's poll). */
export type GetOutcome = { job: JobRecord; calls: number } | { missing: true } | { keyUnavailable: true; job: JobRecord };

/** Time a record write at creation may take past the request's deadline before the record is kept in memory instead. */
const STORE_WRITE_MIN_MS = 1_000;
/** Retry spacing of the unsaved-records flush while the store fails: 1 s doubling to 30 s. */
const FLUSH_RETRY_MS = { first: 1_000, max: 30_000 };

/**
 * Jobs: creation through the rotation loop (429 → next key; an attempt whose outcome is unknown
 * is not replayed, its job is recorded `unknown` where the provider can find it by our id),
 * records in DynamoDB, and polling that always uses the creating key — looked up by fingerprint,
 * so any container can poll — never rotated, at most one poll per job at a time in a container
 * and per interval in the fleet, and never again once the job is terminal.
 */
export class JobService {
  /** Jobs created upstream whose record could not be stored yet (store down): kept, served, retried. */
  private readonly unsaved = new Map<string, JobRecord>();
  private readonly reads = new SingleFlight<JobRecord | undefined>();
  private readonly polls = new SingleFlight<GetOutcome>();
  private readonly flushes = new SingleFlight<void>();
  private flushRetry = { at: 0, ms: 0 };
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
    meta: { seconds: string; size?: string; apiKeyId?: string },
    deadline: number,
  ): Promise<RotationResult<JobRecord>> {
    const id = newJobId(adapter.object);
    const tracked = trackAnswers(adapter.create(req, id));
    const r = await this.deps.runner.run(adapter.provider, tracked.op, deadline);
    const made = createdOrLost(r, adapter as JobAdapter<unknown>, tracked.unanswered());
    if (!made) return r as RotationResult<never>;
    const now = this.clock();
    const { created, keyId, keyFingerprint } = made;
    const job: JobRecord = {
      id, object: adapter.object, provider: adapter.provider, model: req.model, prompt: req.prompt, seconds: meta.seconds,
      ...(meta.size ? { size: meta.size } : {}),
      ...(meta.apiKeyId ? { apiKeyId: meta.apiKeyId } : {}),
      ...(created.providerTaskId ? { providerTaskId: created.providerTaskId } : {}),
      // The lease's own id and fingerprint: never looked up again in a pool that may have been rebuilt.
      keyId, keyFingerprint,
      ...(created.statusUrl ? { statusUrl: created.statusUrl, responseUrl: created.responseUrl } : {}),
      status: created.status, createdAt: now, lastRefreshAt: now, expectedMs: adapter.expectedMs,
    };
    if (job.status === 'unknown') this.log.warn('job creation answer lost; recorded as unknown, the next poll looks it up', { jobId: id, provider: job.provider, key: keyId, failure: r.ok ? 'unreadable_answer' : r.failure.kind });
    await this.keep(job, deadline);
    return { ok: true, value: job, attempts: r.attempts, keyId, keyFingerprint, queuedMs: r.queuedMs };
  }

  /** Stores a new record, within the request's time; a store that fails or is late leaves it in memory, written later. */
  private async keep(job: JobRecord, deadline: number): Promise<void> {
    const write = this.store.createOnce(job).then(
      () => true,
      (err: unknown) => {
        this.log.error('job record not stored yet; kept in memory', { jobId: job.id, provider: job.provider, key: job.keyId, ...errorFields(err) });
        return false;
      },
    );
    // The task exists and may be charged: never drop it. Keep the record, answer, store it later.
    if (!(await withTimeout(write, Math.max(STORE_WRITE_MIN_MS, deadline - this.clock()), () => false))) this.unsaved.set(job.id, job);
  }

  /** Retries storing records kept in memory (post-response), unless a recent attempt failed: one flush at a time. */
  flushUnsavedIfDue(): Promise<void> {
    if (this.unsaved.size === 0 || this.clock() < this.flushRetry.at) return Promise.resolve();
    return this.flushUnsaved();
  }

  /** Stores the records kept in memory now (shutdown, tests). At most one flush runs at a time; callers share it. */
  flushUnsaved(): Promise<void> {
    return this.flushes.run('unsaved', async () => {
      for (const job of [...this.unsaved.values()]) {
        try {
          await this.store.createOnce(job);
        } catch {
          // Store still down: stop here (the next record would wait as long) and space the next try.
          const ms = Math.min(FLUSH_RETRY_MS.max, this.flushRetry.ms ? this.flushRetry.ms * 2 : FLUSH_RETRY_MS.first);
          this.flushRetry = { at: this.clock() + ms, ms };
          return;
        }
        // A poll may have replaced it meanwhile: that newer state stays in memory, served and written next time.
        if (this.unsaved.get(job.id) === job) this.unsaved.delete(job.id);
      }
      this.flushRetry = { at: 0, ms: 0 };
    });
  }

  /**
   * A job by id, if one of these adapters' providers made it and `apiKeyId` created it (another
   * key's job answers as missing); refreshed from the provider when due — one poll at a time per
   * job in this container (concurrent GETs share it), and one per interval in the fleet.
   */
  async get(adapters: readonly JobAdapter<unknown>[], id: string, apiKeyId?: string): Promise<GetOutcome> {
    const job = await this.reads.run(id, async () => this.unsaved.get(id) ?? (await this.store.get(id)));
    const adapter = job && adapters.find((a) => a.provider === job.provider);
    if (!job || !adapter || !ownedBy(job, apiKeyId)) return { missing: true };
    const shown = (j: JobRecord) => present(j, adapter, this.settings, this.log);
    if (isTerminal(job.status) || this.clock() - job.lastRefreshAt < this.settings.minPollIntervalMs) return { job: shown(job), calls: 0 };
    const follower = this.polls.has(id);
    const out = await this.polls.run(id, () => this.refresh(adapter, job));
    if ('missing' in out) return out;
    return { ...out, job: shown(out.job), ...('calls' in out ? { calls: follower ? 0 : out.calls } : {}) };
  }

  /** One poll of a due job: claimed first (stored jobs), then settled and written. */
  private async refresh(adapter: JobAdapter<unknown>, job: JobRecord): Promise<GetOutcome> {
    const lease = this.deps.poolOf(job.provider).leaseByFingerprint(job.keyFingerprint);
    if (!lease) return { keyUnavailable: true, job };
    const unsaved = this.unsaved.has(job.id);
    const at = Math.max(this.clock(), job.lastRefreshAt + 1);
    if (unsaved) {
      this.unsaved.set(job.id, { ...job, lastRefreshAt: at });
    } else if (!(await this.store.claimRefresh(job.id, job.lastRefreshAt, at))) {
      // Another container polls it now (or just did): serve what the record says.
      return { job: (await this.store.get(job.id)) ?? job, calls: 0 };
    }
    const counter = { calls: 0 };
    const answer = await pollOnce(adapter, job, lease, this.settings.pollTimeoutMs, this.deps, counter);
    const settled = settle({ ...job, lastRefreshAt: at }, answer, this.clock(), adapter, this.settings, this.log);
    const r = this.deps.redactor;
    const next = settled?.error ? { ...settled, error: { code: r.redact(settled.error.code), message: r.redact(settled.error.message) } } : settled;
    return { job: next ? await this.save(job, next, unsaved) : job, calls: counter.calls };
  }

  /** Writes a refreshed record: the transition is stored once in the fleet, and a terminal one counted once. */
  private async save(job: JobRecord, next: JobRecord, unsaved: boolean): Promise<JobRecord> {
    if (unsaved) {
      // Not in the store yet: the in-memory record is the record (saved, newest state, by flushUnsaved).
      this.unsaved.set(job.id, next);
    } else if (!(await this.store.transition(next, job.status))) {
      return (await this.store.get(job.id)) ?? next;
    }
    if (isTerminal(next.status) && !isTerminal(job.status)) this.deps.events?.jobDone(next.provider, next.status === 'completed', next.lastRefreshAt);
    return next;
  }
}
