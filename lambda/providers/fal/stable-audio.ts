import { AudioGenerationInput, AudioGenerationRequest, Created, InvalidRequest, JobAdapter, JobRecord, KeyCredential, MalformedAnswer, PollPlan } from '../../domain';
import { obj } from '../http/json';
import { range, tooLong } from '../rules';
import type { JobProvider } from '../types';
import { classifyFal } from './classify';
import { falAuth } from './flux';

export const FAL_AUDIO_MODELS = ['fal-ai/stable-audio'] as const;

/** fal's status and result URLs use owner/app only, dropping any model subpath (docs/providers.md). */
export function falQueueAppPath(model: string): string {
  return model.split('/').slice(0, 2).join('/');
}

/** Whether a URL the provider sent is on this origin (our key is never sent anywhere else). */
function onOrigin(origin: string): (u: unknown) => u is string {
  return (u: unknown): u is string => {
    if (typeof u !== 'string') return false;
    try {
      return new URL(u).origin === origin;
    } catch {
      return false;
    }
  };
}

/**
 * fal queue (`fal-ai/stable-audio`): submit, then status (202 IN_QUEUE / IN_PROGRESS, 200
 * COMPLETED), then result. The URLs the submit answer returns are preferred, but only when they
 * are on the configured queue host: our key must never be sent anywhere else.
 */
function falQueueAudio(queueBaseUrl: string): JobAdapter<AudioGenerationRequest> {
  const sameHost = onOrigin(new URL(queueBaseUrl).origin);
  return {
    provider: 'fal-stable-audio',
    object: 'audio.generation',
    expectedMs: 30_000,
    create(req) {
      const body = JSON.stringify({ prompt: req.prompt, seconds_total: req.seconds });
      return {
        replaySafe: false,
        request: (key) => ({ method: 'POST', url: `${queueBaseUrl}/${req.model}`, headers: { ...falAuth(key.secret()), 'content-type': 'application/json' }, body }),
        classify: classifyFal,
        decode: (a): Created => {
          const b = obj(a.body);
          const id = b?.request_id;
          if (typeof id !== 'string' || id === '') throw new MalformedAnswer('fal queue: no request_id');
          const base = `${queueBaseUrl}/${falQueueAppPath(req.model)}/requests/${encodeURIComponent(id)}`;
          return {
            providerTaskId: id,
            status: 'queued',
            statusUrl: sameHost(b?.status_url) ? b.status_url : `${base}/status`,
            responseUrl: sameHost(b?.response_url) ? b.response_url : base,
          };
        },
      };
    },
    poll(job: JobRecord, key: KeyCredential): PollPlan {
      const base = `${queueBaseUrl}/${falQueueAppPath(job.model)}/requests/${encodeURIComponent(job.providerTaskId)}`;
      const headers = falAuth(key.secret());
      const result = { method: 'GET' as const, url: job.responseUrl ?? base, headers };
      return {
        classify: classifyFal,
        first: { method: 'GET', url: job.statusUrl ?? `${base}/status`, headers },
        interpret: (body, status) => {
          const b = obj(body);
          if (b && 'audio_file' in b) {
            const url = obj(b.audio_file)?.url;
            if (typeof url !== 'string') throw new MalformedAnswer('fal: result without audio_file.url');
            return { status: 'completed', url };
          }
          const s = b?.status;
          if (s === 'IN_QUEUE') return { status: 'queued' };
          if (s === 'IN_PROGRESS') return { status: 'in_progress' };
          if (s === 'COMPLETED' || status === 200) return { next: result };
          throw new MalformedAnswer('fal: unknown queue status');
        },
      };
    },
  };
}


/** fal Stable Audio through fal's queue: a job (`POST /v1/audio/generations`). */
export const falStableAudio: JobProvider<'fal-stable-audio', 'audio.generation', AudioGenerationInput, AudioGenerationRequest> = {
  id: 'fal-stable-audio',
  capability: 'job',
  object: 'audio.generation',
  p95ObjectiveMs: 5_000,
  serves: (model) => (FAL_AUDIO_MODELS as readonly string[]).includes(model),
  validate(p) {
    if (p.prompt.length > 2000) throw tooLong('prompt', 2000);
    const seconds = p.seconds ?? 30;
    if (!Number.isInteger(seconds)) throw new InvalidRequest("'seconds' must be a whole number.", 'seconds');
    return { model: p.model, prompt: p.prompt, seconds: range('seconds', seconds, 1, 47) };
  },
  meta: (req) => ({ seconds: String(req.seconds) }),
  adapter: (urls) => falQueueAudio(urls.falQueue),
};
