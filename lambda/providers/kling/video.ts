import {
  Created, InvalidRequest, JobAdapter, JobRecord, KeyCredential, MalformedAnswer, PollPlan, PollResult, redactProviderText, VideoInput, VideoRequest,
} from '../../domain';
import { obj } from '../http/json';
import { tooLong } from '../rules';
import type { JobProvider } from '../types';
import { KlingTokens } from './tokens';

export const KLING_VIDEO_MODELS = ['kling-v1', 'kling-v1-6', 'kling-v2-master', 'kling-v2-1-master'] as const;

/** Where Kling's result URLs live: its CDN, `https://cdn.klingai.com/bs2/upload-kling-api/…` (any klingai.com subdomain). */
export const KLING_MEDIA_HOSTS = ['.klingai.com'] as const;

/** Kling status → ours: submitted → queued, processing → in_progress, succeed → completed, failed → failed. */
export function klingTaskResult(data: Record<string, unknown> | undefined): PollResult {
  const status = data?.task_status;
  if (status === 'submitted') return { status: 'queued' };
  if (status === 'processing') return { status: 'in_progress' };
  if (status === 'failed') {
    // The provider's reason is what the client needs (the job resource shows it), but upstream text may echo
    // credentials: anything shaped like a key or token is redacted here, the length is bounded, and the
    // job service removes any fragment of our own keys before the record is stored or shown.
    const msg = typeof data?.task_status_msg === 'string' ? redactProviderText(data.task_status_msg.slice(0, 500)) : 'The provider failed the generation.';
    return { status: 'failed', error: { code: 'generation_failed', message: msg } };
  }
  if (status === 'succeed') {
    const videos = obj(data?.task_result)?.videos;
    const url = Array.isArray(videos) ? obj(videos[0])?.url : undefined;
    if (typeof url !== 'string') throw new MalformedAnswer('kling: succeeded task without a video url');
    return { status: 'completed', url };
  }
  throw new MalformedAnswer('kling: unknown task_status');
}

function klingVideo(baseUrl: string, tokens: KlingTokens): JobAdapter<VideoRequest> {
  return {
    provider: 'kling-video',
    object: 'video',
    expectedMs: 180_000,
    // Kling answers GET …/text2video/{id} for a task id or an external_task_id: our job id finds a task whose creation answer was lost.
    findsByJobId: true,
    media: { hosts: KLING_MEDIA_HOSTS, origins: [new URL(baseUrl).origin] },
    create(req, jobId) {
      // Our job id doubles as Kling's idempotency field: a replay under the same account cannot make a second task.
      const body = JSON.stringify({
        model_name: req.model,
        prompt: req.prompt,
        ...(req.negative_prompt ? { negative_prompt: req.negative_prompt } : {}),
        duration: req.seconds,
        aspect_ratio: req.aspect_ratio,
        external_task_id: jobId,
      });
      let last: KeyCredential | undefined;
      return {
        replaySafe: false,
        request: async (key) => {
          last = key;
          return { method: 'POST', url: `${baseUrl}/v1/videos/text2video`, headers: { authorization: await tokens.bearer(key), 'content-type': 'application/json' }, body };
        },
        classify: (a, now) => tokens.classify(last, a, now),
        decode: (a): Created => {
          const data = obj(obj(a.body)?.data);
          const taskId = data?.task_id;
          // A 2xx we cannot read may still have made the task: keep the job, look it up by our id (external_task_id).
          if (typeof taskId !== 'string' || taskId === '') return { status: 'unknown' };
          // The task exists once it has an id: an unfamiliar status must not make us forget it.
          const st = data?.task_status;
          return { providerTaskId: taskId, status: st === 'processing' ? 'in_progress' : 'queued' };
        },
      };
    },
    poll(job: JobRecord, key: KeyCredential): PollPlan {
      // Until the task id is known (status unknown), the task is found by our job id, sent as its external_task_id.
      const url = `${baseUrl}/v1/videos/text2video/${encodeURIComponent(job.providerTaskId ?? job.id)}`;
      return {
        // Polls are read by the same classifier as creation: a token complaint re-mints it.
        classify: (a, now) => tokens.classify(key, a, now),
        first: tokens.bearer(key).then((authorization) => ({ method: 'GET' as const, url, headers: { authorization } })),
        interpret: (body) => {
          const data = obj(obj(body)?.data);
          const taskId = data?.task_id;
          return { ...klingTaskResult(data), ...(typeof taskId === 'string' && taskId !== '' ? { taskId } : {}) };
        },
      };
    },
  };
}

const VIDEO_SIZES: Record<string, '16:9' | '9:16' | '1:1'> = {
  '1280x720': '16:9',
  '1920x1080': '16:9',
  '720x1280': '9:16',
  '1080x1920': '9:16',
  '720x720': '1:1',
  '1024x1024': '1:1',
};

function aspectOf(p: VideoInput): '16:9' | '9:16' | '1:1' {
  if (p.size !== undefined && p.aspect_ratio !== undefined) throw new InvalidRequest('Give size or aspect_ratio, not both.', 'size');
  if (p.size !== undefined) {
    const a = Object.hasOwn(VIDEO_SIZES, p.size) ? VIDEO_SIZES[p.size] : undefined;
    if (!a) throw new InvalidRequest(`size must be one of ${Object.keys(VIDEO_SIZES).join(', ')}.`, 'size');
    return a;
  }
  if (p.aspect_ratio === undefined) return '16:9';
  if (p.aspect_ratio !== '16:9' && p.aspect_ratio !== '9:16' && p.aspect_ratio !== '1:1') throw new InvalidRequest('aspect_ratio must be 16:9, 9:16 or 1:1.', 'aspect_ratio');
  return p.aspect_ratio;
}

/** Kling text-to-video: a job (`POST /v1/videos`), polled with the creating key. */
export const klingVideoProvider: JobProvider<'kling-video', 'video', VideoInput, VideoRequest> = {
  id: 'kling-video',
  capability: 'job',
  object: 'video',
  p95ObjectiveMs: 5_000,
  serves: (model) => (KLING_VIDEO_MODELS as readonly string[]).includes(model),
  validate(p) {
    if (p.prompt.length > 2500) throw tooLong('prompt', 2500);
    if (p.negative_prompt !== undefined && p.negative_prompt.length > 2500) throw tooLong('negative_prompt', 2500);
    const seconds = p.seconds === undefined ? '5' : String(p.seconds);
    if (seconds !== '5' && seconds !== '10') throw new InvalidRequest('seconds must be 5 or 10 for Kling models.', 'seconds');
    const aspect = aspectOf(p);
    return { model: p.model, prompt: p.prompt, seconds, aspect_ratio: aspect, ...(p.size ? { size: p.size } : {}), ...(p.negative_prompt ? { negative_prompt: p.negative_prompt } : {}) };
  },
  meta: (req) => ({ seconds: req.seconds, ...(req.size ? { size: req.size } : {}) }),
  adapter: (urls, clock) => klingVideo(urls.kling, new KlingTokens(clock)),
};
