import type { APIGatewayProxyResult } from 'aws-lambda';
import type { Clock } from '../core/types';
import type { Gateway } from '../gateway';
import { progressOf } from '../jobs/progress';
import type { GetOutcome, JobService } from '../jobs/service';
import { isJobId } from '../jobs/store';
import type { JobAdapter, JobObject, JobRecord } from '../jobs/types';
import type { VideoRequest } from '../providers/kling-video';
import type { AudioGenerationRequest } from '../providers/fal-queue';
import { Call, json, jsonBody, Route, runProvided } from './app';
import { HttpError } from './errors';
import { parseAudioGeneration, parseVideo } from './validation';

/** The job resource as clients see it (OpenAI videos shape). */
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

export interface JobAdapters {
  video: JobAdapter<VideoRequest>;
  audio: JobAdapter<AudioGenerationRequest>;
}

/**
 * POST /v1/videos, GET /v1/videos/{id}, GET /v1/videos/{id}/content,
 * POST /v1/audio/generations, GET /v1/audio/generations/{id}.
 */
export function jobRoutes(gw: Gateway, jobs: JobService, adapters: JobAdapters, clock: Clock): Route[] {
  const load = async (adapter: JobAdapter<unknown>, call: Call): Promise<{ job: JobRecord; calls: number }> => {
    const [id] = call.params;
    const what = NAME[adapter.object];
    const notFound = () => new HttpError(404, 'not_found_error', `${adapter.object === 'video' ? 'video' : 'generation'}_not_found`, `No ${what} with id '${id.slice(0, 80)}'.`, 'id');
    if (!isJobId(adapter.object, id)) throw notFound();
    let got: GetOutcome;
    try {
      got = await jobs.get(adapter, id);
    } catch (err) {
      gw.deps.log.error('job store unavailable', { error: err instanceof Error ? err.name : String(err) });
      throw new HttpError(503, 'service_unavailable', 'store_unavailable', `The ${what} record cannot be read right now; retry shortly.`, null, { 'retry-after': '2' });
    }
    if ('missing' in got) throw notFound();
    if ('keyUnavailable' in got) {
      throw new HttpError(503, 'service_unavailable', 'creating_key_unavailable', `The key that created this ${what} is no longer configured, and only it can see the task.`);
    }
    return got;
  };
  const headers = (job: JobRecord, calls: number) => ({ 'x-nanobot-provider': job.provider, 'x-nanobot-attempts': String(calls) });
  const view = (job: JobRecord, calls = 1): APIGatewayProxyResult => json(200, jobView(job, clock()), headers(job, calls));
  const show = async (adapter: JobAdapter<unknown>, call: Call) => {
    const { job, calls } = await load(adapter, call);
    return view(job, calls);
  };

  return [
    {
      method: 'POST',
      pattern: /^\/v1\/videos$/,
      handle: async (call) => {
        const started = clock();
        const req = parseVideo(jsonBody(call.event));
        return runProvided(gw, call, 'kling-video', started, (o) => jobs.create(adapters.video, req, { seconds: req.seconds, size: req.size }, call.deadline, o), (job) => view(job));
      },
    },
    { method: 'GET', pattern: /^\/v1\/videos\/([^/]+)$/, handle: (call) => show(adapters.video, call) },
    {
      method: 'GET',
      pattern: /^\/v1\/videos\/([^/]+)\/content$/,
      handle: async (call) => {
        const { job, calls } = await load(adapters.video, call);
        if (job.status === 'completed' && job.url) return { statusCode: 302, headers: { location: job.url, 'cache-control': 'no-store', ...headers(job, calls) }, body: '' };
        if (job.status === 'failed') throw new HttpError(409, 'invalid_request_error', 'video_failed', `Video ${job.id} failed: it has no content.`, 'id');
        throw new HttpError(409, 'invalid_request_error', 'video_not_ready', `Video ${job.id} is ${job.status}; its content is available once it is completed.`, 'id');
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/audio\/generations$/,
      handle: async (call) => {
        const started = clock();
        const req = parseAudioGeneration(jsonBody(call.event));
        return runProvided(gw, call, 'fal-stable-audio', started, (o) => jobs.create(adapters.audio, req, { seconds: String(req.seconds) }, call.deadline, o), (job) => view(job));
      },
    },
    { method: 'GET', pattern: /^\/v1\/audio\/generations\/([^/]+)$/, handle: (call) => show(adapters.audio, call) },
  ];
}
