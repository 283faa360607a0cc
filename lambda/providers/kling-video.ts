import { createHmac } from 'node:crypto';
import type { KeyLease } from '../keys/key-pool';
import type { Created, JobAdapter, JobRecord, PollPlan, PollResult } from '../jobs/types';
import { classifyKling } from './kling';
import { MalformedAnswer, obj } from './upstream';

export interface VideoRequest {
  model: string;
  prompt: string;
  negative_prompt?: string;
  /** Kling `duration`: "5" or "10". */
  seconds: '5' | '10';
  aspect_ratio: '16:9' | '9:16' | '1:1';
  size?: string;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** A Kling API token: JWT HS256, `iss` = access key, valid 30 min, `nbf` 5 s in the past (clock skew). */
export function klingJwt(access: string, secret: string, nowMs: number, ttlS = 1800): { token: string; exp: number } {
  const now = Math.floor(nowMs / 1000);
  const exp = now + ttlS;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iss: access, exp, nbf: now - 5 }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return { token: `${head}.${body}.${sig}`, exp: exp * 1000 };
}

/** Tokens are cached per key until a minute before they expire; a clock complaint (1003/1004) drops one. */
export class KlingTokens {
  private readonly cache = new Map<string, { token: string; exp: number }>();
  constructor(private readonly clock: () => number = Date.now) {}

  bearer(key: KeyLease): string {
    const now = this.clock();
    // By fingerprint, not position: after a key list change `kling#1` may be another key.
    let t = this.cache.get(key.fingerprint);
    if (!t || t.exp - now < 60_000) {
      const [access, secret] = key.secret().split(':');
      t = klingJwt(access, secret, now);
      this.cache.set(key.fingerprint, t);
    }
    return `Bearer ${t.token}`;
  }

  forget(key: KeyLease): void {
    this.cache.delete(key.fingerprint);
  }
}

/** Long runs of key-like characters (API keys, JWT parts, secrets) become `[redacted]`. */
export function redactTokens(text: string): string {
  return text.replace(/[A-Za-z0-9_\-.:=+/]{20,}/g, '[redacted]');
}

/** Kling status → ours: submitted → queued, processing → in_progress, succeed → completed, failed → failed. */
export function klingTaskResult(data: Record<string, unknown> | undefined): PollResult {
  const status = data?.task_status;
  if (status === 'submitted') return { status: 'queued' };
  if (status === 'processing') return { status: 'in_progress' };
  if (status === 'failed') {
    // The provider's reason is what the client needs (issue 5), but upstream text may echo
    // credentials: anything shaped like a key or token is redacted, and the length is bounded.
    const msg = typeof data?.task_status_msg === 'string' ? redactTokens(data.task_status_msg.slice(0, 500)) : 'The provider failed the generation.';
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

export function klingVideo(baseUrl: string, tokens: KlingTokens): JobAdapter<VideoRequest> {
  return {
    provider: 'kling-video',
    object: 'video',
    expectedMs: 180_000,
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
      let last: KeyLease | undefined;
      return {
        replaySafe: false,
        request: (key) => {
          last = key;
          return { method: 'POST', url: `${baseUrl}/v1/videos/text2video`, headers: { authorization: tokens.bearer(key), 'content-type': 'application/json' }, body };
        },
        classify: (a, now) => {
          const c = classifyKling(a, now);
          if (last && (c.code === 'kling_1003' || c.code === 'kling_1004')) tokens.forget(last);
          return c;
        },
        decode: (a): Created => {
          const data = obj(obj(a.body)?.data);
          const taskId = data?.task_id;
          if (typeof taskId !== 'string' || taskId === '') throw new MalformedAnswer('kling: no task_id');
          // The task exists once it has an id: an unfamiliar status must not make us forget it.
          const st = data?.task_status;
          return { providerTaskId: taskId, status: st === 'processing' ? 'in_progress' : 'queued' };
        },
      };
    },
    poll(job: JobRecord, key: KeyLease): PollPlan {
      return {
        first: { method: 'GET', url: `${baseUrl}/v1/videos/text2video/${encodeURIComponent(job.providerTaskId)}`, headers: { authorization: tokens.bearer(key) } },
        interpret: (body) => klingTaskResult(obj(obj(body)?.data)),
      };
    },
  };
}
