import type { ProviderName } from './ids';
import type { Classifier } from './outcome';
import type { BufferedOperation, KeyCredential, UpstreamRequest } from './ports';

/**
 * `unknown`: the creation request reached the provider (or may have) but its answer was lost; the
 * next poll looks the task up (Kling: by our job id as `external_task_id`; fal: by the request id
 * salvaged from the answer) and resolves it: found → its state, provably absent → `failed`.
 */
export type JobStatus = 'unknown' | 'queued' | 'in_progress' | 'completed' | 'failed';
export type JobObject = 'video' | 'audio.generation';

/**
 * Partition-key prefix of the Idempotency-Key records (`IDEMPOTENCY#<API key id>`): the only items
 * the function may delete (Powertools removes an in-progress record when a creation made nothing).
 */
export const IDEMPOTENCY_PK_PREFIX = 'IDEMPOTENCY#';

export const isTerminal = (s: JobStatus) => s === 'completed' || s === 'failed';

/** A long-running generation, as stored at `pk=JOB#<id>`. */
export interface JobRecord {
  id: string;
  object: JobObject;
  provider: ProviderName;
  model: string;
  prompt: string;
  seconds: string;
  size?: string;
  /** The provider's task / request id (absent while `unknown` and not yet found). */
  providerTaskId?: string;
  /** The API Gateway API key id that created the job (absent locally): only it can read the job. */
  apiKeyId?: string;
  /** The creating key: public id and fingerprint (the fingerprint survives re-ordered key lists). */
  keyId: string;
  keyFingerprint: string;
  /** fal queue: where to poll, as the submit answer said (checked to be on the configured host). */
  statusUrl?: string;
  responseUrl?: string;
  status: JobStatus;
  /** Epoch ms. */
  createdAt: number;
  completedAt?: number;
  lastRefreshAt: number;
  url?: string;
  error?: { code: string; message: string };
  /** Expected generation time (ms), for the progress estimate. */
  expectedMs: number;
}

/** What the provider said about a job on one poll. */
export type PollResult = (
  | { status: 'queued' | 'in_progress' }
  | { status: 'completed'; url: string }
  | { status: 'failed'; error: { code: string; message: string } }
) & {
  /** The provider's task id, when the answer names it (a job found by our own id learns it here). */
  taskId?: string;
};

export interface Created {
  /** Absent only with status `unknown`: the task is looked up later by our job id. */
  providerTaskId?: string;
  status: JobStatus;
  statusUrl?: string;
  responseUrl?: string;
}

/**
 * A provider of jobs: creation is an ordinary `Operation` (so it goes through the same rotation
 * loop, marked not replay-safe); polling builds plain requests for one given key (never rotated),
 * and its error answers are read by the vendor's own classifier.
 */
export interface JobAdapter<Req> {
  provider: ProviderName;
  object: JobObject;
  expectedMs: number;
  create(req: Req, jobId: string): BufferedOperation<Created>;
  /** Whether a task can be looked up by our job id (Kling's `external_task_id`) when its creation answer was lost. */
  findsByJobId: boolean;
  /** Where the provider's result URLs may point: host rules (`cdn.x.com` exact, `.x.com` any subdomain) and exact origins. */
  media: MediaHosts;
  /** The poll's requests, in order; `interpret` reads each answer and says what to do next. */
  poll(job: JobRecord, key: KeyCredential): PollPlan;
}

export interface MediaHosts {
  /** The vendor's documented media hosts; https only. */
  hosts: readonly string[];
  /** Origins accepted as they are (scheme and port included): the configured base URLs' own, e.g. the local sandbox. */
  origins: readonly string[];
}

export interface PollPlan {
  first: UpstreamRequest | Promise<UpstreamRequest>;
  /** Given a 2xx answer to `req`, either a result or a follow-up request (fal: status, then result). */
  interpret(body: unknown, status: number): PollResult | { next: UpstreamRequest };
  /** The vendor's classifier for a non-2xx poll answer (e.g. Kling's token complaints re-mint it). */
  classify: Classifier;
}

export interface JobEvents {
  /** A job reached a terminal state (recorded once, by the container that stored the transition). */
  jobDone(provider: ProviderName, completed: boolean, at: number): void;
}
