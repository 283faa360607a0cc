import type { Created, JobAdapter, JobRecord, PollPlan } from '../jobs/types';
import type { KeyLease } from '../keys/key-pool';
import { classifyFal, falAuth } from './fal';
import { MalformedAnswer, obj } from './upstream';

export interface AudioGenerationRequest {
  model: string;
  prompt: string;
  /** Length of the clip, 1–47 s (fal `seconds_total`). */
  seconds: number;
}

/** fal's status and result URLs use owner/app only, dropping any model subpath (providers.md §3). */
export function falQueueAppPath(model: string): string {
  return model.split('/').slice(0, 2).join('/');
}

/**
 * fal queue (`fal-ai/stable-audio`): submit, then status (202 IN_QUEUE / IN_PROGRESS, 200
 * COMPLETED), then result. The URLs the submit answer returns are preferred, but only when they
 * are on the configured queue host: our key must never be sent anywhere else.
 */
export function falQueueAudio(queueBaseUrl: string): JobAdapter<AudioGenerationRequest> {
  const origin = new URL(queueBaseUrl).origin;
  const sameHost = (u: unknown): u is string => {
    if (typeof u !== 'string') return false;
    try {
      return new URL(u).origin === origin;
    } catch {
      return false;
    }
  };
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
    poll(job: JobRecord, key: KeyLease): PollPlan {
      const base = `${queueBaseUrl}/${falQueueAppPath(job.model)}/requests/${encodeURIComponent(job.providerTaskId)}`;
      const headers = falAuth(key.secret());
      const result = { method: 'GET' as const, url: job.responseUrl ?? base, headers };
      return {
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

export { classifyFal };
