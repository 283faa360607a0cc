import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ROUTES } from '../contracts';
import { Clock, errorFields, Failure, JobAdapter, JobObject, JobRecord, Log, RotationResult } from '../domain';
import { IdempotencyInFlight, IdempotencyKeyReused, isIdempotencyKey, JobIdempotency } from '../jobs/idempotency';
import { progressOf } from '../jobs/progress';
import type { GetOutcome, JobService } from '../jobs/service';
import { isJobId } from '../jobs/store';
import { Call, HttpResult, json, jsonBody, Route } from './app';
import { HttpError, invalid } from './errors';
import { answer } from './media-routes';
import { parseAudioGeneration, parseVideo } from './validation';

/** The job resource as clients see it (OpenAI videos shape; `status` may also be `unknown`). */
export function jobView(job: JobRecord, now: number): Record<string, unknown> {
  return {
    id: job.id,
    object: job.object,
    model: job.model,
    status: job.status,
    progress: progressOf(job, now),
    created_at: Math.floor(job.createdAt / 1000),
    completed_at: job.completedAt ? Math.floor(job.completedAt / 1000) : null,
    prompt: job.prompt,
    seconds: job.seconds,
    ...(job.size ? { size: job.size } : {}),
    error: job.error ?? null,
    ...(job.url ? { url: job.url } : {}),
  };
}

const NAME: Record<JobObject, string> = { video: 'video', 'audio.generation': 'audio generation' };

type Adapter = JobAdapter<{ model: string; prompt: string }>;

/** Each job provider's adapter, by provider id (built once, at start-up, from the registry). */
export type JobAdapters = ReadonlyMap<string, Adapter>;

/** The API Gateway API key that made this call (`requestContext.identity.apiKeyId`); none locally. */
export function apiKeyIdOf(event: APIGatewayProxyEvent): string | undefined {
  const id = event.requestContext?.identity?.apiKeyId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** The `Idempotency-Key` header (any case), checked: 1–255 printable ASCII characters. */
function idempotencyKeyOf(event: APIGatewayProxyEvent): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'idempotency-key');
  if (!entry || entry[1] === undefined) return undefined;
  if (!isIdempotencyKey(entry[1])) throw invalid('Idempotency-Key must be 1 to 255 printable ASCII characters.', 'Idempotency-Key');
  return entry[1];
}

/** What an idempotent creation remembers: the job, or a failure that may have created a task (never run twice). */
type Remembered = { jobId: string; attempts: number } | { failure: Failure; attempts: number };

/** Thrown out of an idempotent run whose failure created nothing: the key is released for a retry. */
class NotCreated extends Error {
  constructor(readonly result: RotationResult<JobRecord>) {
    super('job not created');
  }
}

export interface JobRouteContext {
  clock: Clock;
  log: Log;
  idempotency: JobIdempotency;
}

/**
 * POST /v1/videos, GET /v1/videos/{id}, GET /v1/videos/{id}/content,
 * POST /v1/audio/generations, GET /v1/audio/generations/{id}.
 */
export function jobRoutes(jobs: JobService, adapters: JobAdapters, ctx: JobRouteContext): Route[] {
  const { clock } = ctx;
  const load = (object: JobObject, call: Call) => loadJob(jobs, adapters, object, call, ctx.log);
  const headers = (job: JobRecord, calls: number) => ({ 'x-nanobot-provider': job.provider, 'x-nanobot-attempts': String(calls) });
  const view = (job: JobRecord, calls = 1): APIGatewayProxyResult => json(200, jobView(job, clock()), headers(job, calls));
  const show = async (object: JobObject, call: Call) => {
    const { job, calls } = await load(object, call);
    return view(job, calls);
  };
  const create = (call: Call, parse: typeof parseVideo) => createJob(jobs, adapters, ctx, call, parse, view);

  return [
    { ...ROUTES.createVideo, handle: (call) => create(call, parseVideo) },
    { ...ROUTES.getVideo, handle: (call) => show('video', call) },
    {
      ...ROUTES.videoContent,
      handle: async (call) => {
        const { job, calls } = await load('video', call);
        // The URL was checked against the media hosts when stored and again just now (load): https on a vendor's host only.
        if (job.status === 'completed' && job.url) return { statusCode: 302, headers: { location: job.url, 'cache-control': 'no-store', ...headers(job, calls) }, body: '' };
        if (job.status === 'failed') throw new HttpError(409, 'invalid_request_error', 'video_failed', `Video ${job.id} failed: it has no content.`, 'id');
        throw new HttpError(409, 'invalid_request_error', 'video_not_ready', `Video ${job.id} is ${job.status}; its content is available once it is completed.`, 'id');
      },
    },
    { ...ROUTES.createAudioGeneration, handle: (call) => create(call, parseAudioGeneration) },
    { ...ROUTES.getAudioGeneration, handle: (call) => show('audio.generation', call) },
  ];
}

/** POST: validated first (a 400 is never remembered), then created — once per Idempotency-Key when one is sent. */
async function createJob(jobs: JobService, adapters: JobAdapters, ctx: JobRouteContext, call: Call, parse: typeof parseVideo, view: (job: JobRecord, calls?: number) => APIGatewayProxyResult): Promise<HttpResult> {
  const body = jsonBody(call.event);
  const { serving, req } = parse(body);
  const apiKeyId = apiKeyIdOf(call.event);
  const key = idempotencyKeyOf(call.event);
  const run = () => jobs.create(adapters.get(serving.id) as Adapter, req, { ...serving.meta(req), apiKeyId }, call.deadline);
  if (key === undefined) return answer(call, serving.id, await run(), (job) => view(job));
  let fresh: RotationResult<JobRecord> | undefined;
  let got: { value: Remembered; replayed: boolean };
  try {
    got = await ctx.idempotency.once<Remembered>({ apiKeyId, route: serving.object, key, body, remainingMs: call.deadline - ctx.clock() + 3_000 }, async () => {
      fresh = await run();
      if (fresh.ok) return { jobId: fresh.value.id, attempts: fresh.attempts };
      const f = fresh.failure;
      // Sent, and no job could be recorded (fal has no lookup by our id): remembered, so a retry cannot pay twice.
      if (f.kind === 'outcome_unknown' || f.kind === 'deadline_exceeded') return { failure: f, attempts: fresh.attempts };
      throw new NotCreated(fresh);
    });
  } catch (err) {
    if (err instanceof NotCreated) return answer(call, serving.id, err.result, (job) => view(job));
    throw idempotencyError(err, ctx.log);
  }
  if (fresh && !got.replayed) return answer(call, serving.id, fresh, (job) => view(job));
  const replay = got.value;
  if ('failure' in replay) return answer<JobRecord>(call, serving.id, { ok: false, failure: replay.failure, attempts: 0 }, (job) => view(job));
  const loaded = await loadJob(jobs, adapters, serving.object, { ...call, params: [replay.jobId] }, ctx.log);
  const res = view(loaded.job, loaded.calls);
  res.headers = { ...res.headers, 'idempotent-replayed': 'true' };
  return res;
}

/** An idempotent creation's refusal as an HTTP answer. */
function idempotencyError(err: unknown, log: Log): HttpError {
  if (err instanceof IdempotencyInFlight) {
    return new HttpError(409, 'invalid_request_error', 'idempotency_key_in_use', 'A request with this Idempotency-Key is still in progress; retry shortly.', 'Idempotency-Key', { 'retry-after': '2' });
  }
  if (err instanceof IdempotencyKeyReused) {
    return new HttpError(422, 'invalid_request_error', 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request body (keys are remembered for 24 hours).', 'Idempotency-Key');
  }
  log.error('idempotency records unavailable; nothing created', errorFields(err));
  return new HttpError(503, 'service_unavailable', 'store_unavailable', 'Idempotency-Key cannot be honoured right now (its records are unreadable); nothing was created. Retry shortly.', null, { 'retry-after': '2' });
}

/** A job of this route by the call's id: 404 for an id this route or this API key cannot have made, 503 while unreadable. */
async function loadJob(jobs: JobService, adapters: JobAdapters, object: JobObject, call: Call, log: Log): Promise<{ job: JobRecord; calls: number }> {
  const [id] = call.params;
  const what = NAME[object];
  const notFound = () => new HttpError(404, 'not_found_error', `${object === 'video' ? 'video' : 'generation'}_not_found`, `No ${what} with id '${id.slice(0, 80)}'.`, 'id');
  if (!isJobId(object, id)) throw notFound();
  let got: GetOutcome;
  try {
    got = await jobs.get([...adapters.values()].filter((a) => a.object === object), id, apiKeyIdOf(call.event));
  } catch (err) {
    log.error('job store unavailable', errorFields(err));
    throw new HttpError(503, 'service_unavailable', 'store_unavailable', `The ${what} record cannot be read right now; retry shortly.`, null, { 'retry-after': '2' });
  }
  if ('missing' in got) throw notFound();
  if ('keyUnavailable' in got) {
    throw new HttpError(503, 'service_unavailable', 'creating_key_unavailable', `The key that created this ${what} is no longer configured, and only it can see the task.`);
  }
  return got;
}
