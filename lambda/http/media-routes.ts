import type { Failure, ImageRequest, MediaStream, RotationResult, SpeechRequest } from '../domain';
import { ROUTES } from '../contracts';
import type { ProviderId } from '../providers/registry';
import type { ImageProvider, SpeechProvider } from '../providers/types';
import { Call, errorResult, HttpResult, jsonBody, Route } from './app';
import { failureToHttp } from './errors';
import { parseImages, parseSpeech } from './validation';

/** What the media routes need of the gateway: run a validated request on its provider. */
export interface MediaRunner {
  speech(provider: SpeechProvider<ProviderId>, req: SpeechRequest, deadline: number, wait?: { maxWaitMs?: number }): Promise<RotationResult<MediaStream>>;
  images(provider: ImageProvider<ProviderId>, req: ImageRequest, deadline: number, wait?: { maxWaitMs?: number }): Promise<RotationResult<MediaStream>>;
}

/** `POST /v1/audio/speech` and `POST /v1/images/generations`. */
export function mediaRoutes(gw: MediaRunner): Route[] {
  return [
    {
      ...ROUTES.speech,
      handle: async (call) => {
        const { serving, req } = parseSpeech(jsonBody(call.event));
        return answer(call, serving.id, await gw.speech(serving, req, call.deadline, waitOf(call)), streamed);
      },
    },
    {
      ...ROUTES.images,
      handle: async (call) => {
        const { serving, req } = parseImages(jsonBody(call.event));
        return answer(call, serving.id, await gw.images(serving, req, call.deadline, waitOf(call)), streamed);
      },
    },
  ];
}

/** A provider route's answer: the result, or the failure in OpenAI shape; always naming provider and attempts. */
export function answer<T>(call: Call, provider: string, r: RotationResult<T>, ok: (v: T) => HttpResult): HttpResult {
  const res = r.ok ? ok(r.value) : failed(call, provider, r.failure);
  res.headers = { ...res.headers, 'x-nanobot-provider': provider, 'x-nanobot-attempts': String(r.attempts), 'x-nanobot-queued-ms': String(Math.round(r.queuedMs ?? 0)) };
  // The pool's request budget, where every usable key's is known (OpenAI x-ratelimit-*).
  if (r.ok && r.poolRemaining !== undefined) res.headers['x-ratelimit-remaining-requests'] = String(r.poolRemaining);
  return res;
}

/** `x-nanobot-max-wait-ms`: lowers the queue wait for this request (0: a fast 429 rather than a wait); ignored unless a whole number. */
function waitOf(call: Call): { maxWaitMs?: number } {
  const h = call.event.headers ?? {};
  const v = h['x-nanobot-max-wait-ms'] ?? Object.entries(h).find(([k]) => k.toLowerCase() === 'x-nanobot-max-wait-ms')?.[1];
  return v !== undefined && /^\d{1,9}$/.test(v.trim()) ? { maxWaitMs: Number(v) } : {};
}

function failed(call: Call, provider: string, f: Failure): HttpResult {
  return errorResult(failureToHttp(f, provider), call.requestId);
}

/** A relayed answer: the bytes go to the client as they arrive. */
function streamed(m: MediaStream): HttpResult {
  return { statusCode: 200, headers: { 'content-type': m.contentType }, stream: m.body };
}
