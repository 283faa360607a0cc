import { AudioGenerationInput, AudioGenerationRequest, Created, InvalidRequest, JobAdapter, JobRecord, KeyCredential, MalformedAnswer, PollPlan, RawAnswer } from '../../domain';
import { obj } from '../http/json';
import { range, tooLong } from '../rules';
import type { JobProvider } from '../types';
import { classifyFal } from './classify';
import { falAuth } from './flux';

export const FAL_AUDIO_MODELS = ['fal-ai/stable-audio'] as const;

/** Where fal's generated files live: its CDN, `https://v3.fal.media/files/…` (fal.media and its subdomains). */
export const FAL_MEDIA_HOSTS = ['fal.media', '.fal.media'] as const;

/**
 * The request id in a submit answer we could not parse (cut short, junk appended): the queue
 * accepted the request, so the id is worth keeping. Only an id-shaped value is taken.
 */
export function salvageRequestId(raw: Buffer): string | undefined {
  return /"request_id"\s*:\s*"([A-Za-z0-9_-]{1,128})"/.exec(raw.toString('utf8', 0, 64 * 1024))?.[1];
}

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
 * The submit answer: the request id and where to poll. The URLs the answer gives are used only when
 * they are on the queue's own origin. An answer that did not parse keeps the request id it carries
 * (status `unknown`: the first poll checks it); without one the outcome is unknown.
 */
function decodeSubmit(a: RawAnswer, queueBaseUrl: string, model: string, sameHost: (u: unknown) => u is string): Created {
  const b = obj(a.body);
  const id = b?.request_id;
  const base = (rid: string) => `${queueBaseUrl}/${falQueueAppPath(model)}/requests/${encodeURIComponent(rid)}`;
  if (typeof id !== 'string' || id === '') {
    const salvaged = b ? undefined : salvageRequestId(a.raw);
    if (!salvaged) throw new MalformedAnswer('fal queue: no request_id');
    return { providerTaskId: salvaged, status: 'unknown', statusUrl: `${base(salvaged)}/status`, responseUrl: base(salvaged) };
  }
  return {
    providerTaskId: id,
    status: 'queued',
    statusUrl: sameHost(b?.status_url) ? b.status_url : `${base(id)}/status`,
    responseUrl: sameHost(b?.response_url) ? b.response_url : base(id),
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
    // fal has no lookup by a client-chosen id: a submit whose answer never arrived cannot be found.
    findsByJobId: false,
    media: { hosts: FAL_MEDIA_HOSTS, origins: [new URL(queueBaseUrl).origin] },
    create(req) {
      const body = JSON.stringify({ prompt: req.prompt, seconds_total: req.seconds });
      return {
        replaySafe: false,
        request: (key) => ({ method: 'POST', url: `${queueBaseUrl}/${req.model}`, headers: { ...falAuth(key.secret()), 'content-type': 'application/json' }, body }),
        classify: classifyFal,
        decode: (a) => decodeSubmit(a, queueBaseUrl, req.model, sameHost),
      };
    },
    poll(job: JobRecord, key: KeyCredential): PollPlan {
      const base = `${queueBaseUrl}/${falQueueAppPath(job.model)}/requests/${encodeURIComponent(job.providerTaskId ?? job.id)}`;
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
