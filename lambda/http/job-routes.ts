import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ROUTES } from '../contracts';
import { Clock, errorFields, JobAdapter, JobObject, JobRecord, Log } from '../domain';
import { progressOf } from '../jobs/progress';
import type { GetOutcome, JobService } from '../jobs/service';
import { isJobId } from '../jobs/store';
import { Call, json, jsonBody, Route } from './app';
import { HttpError } from './errors';
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

export interface JobRouteContext {
  clock: Clock;
  log: Log;
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
  const create = (call: Call, parse: typeof parseVideo) => createJob(jobs, adapters, call, parse, (job) => view(job));

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

/** POST: validated, then created through the rotation loop. */
async function createJob(jobs: JobService, adapters: JobAdapters, call: Call, parse: typeof parseVideo, view: (job: JobRecord) => APIGatewayProxyResult): Promise<APIGatewayProxyResult> {
  const { serving, req } = parse(jsonBody(call.event));
  const apiKeyId = apiKeyIdOf(call.event);
  const r = await jobs.create(adapters.get(serving.id) as Adapter, req, { ...serving.meta(req), apiKeyId }, call.deadline);
  return answer(call, serving.id, r, (job) => view(job));
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
