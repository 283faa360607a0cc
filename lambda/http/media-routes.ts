import type { Failure, ImageRequest, MediaStream, RotationResult, SpeechRequest } from '../domain';
import { ROUTES } from '../contracts';
import type { ProviderId } from '../providers/registry';
import type { ImageProvider, SpeechProvider } from '../providers/types';
import { Call, errorResult, HttpResult, jsonBody, Route } from './app';
import { failureToHttp } from './errors';
import { parseImages, parseSpeech } from './validation';

/** A result and the provider that answered; `from`: the provider that could not (a fallback). */
type Served = RotationResult<MediaStream> & { provider: ProviderId; from?: ProviderId };

/** What the media routes need of the gateway: run a validated request on its provider (or a configured alternative). */
export interface MediaRunner {
  speech(provider: SpeechProvider<ProviderId>, req: SpeechRequest, deadline: number, opts?: RunOptions): Promise<Served>;
  images(provider: ImageProvider<ProviderId>, req: ImageRequest, deadline: number, opts?: RunOptions): Promise<Served>;
}

/** The client's say over the fallback chain and its queue wait, and its going away. */
interface RunOptions {
  fallback?: string;
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/** `x-nanobot-fallback`: `none`, or the part of the configured chain the client accepts. */
const FALLBACK_HEADER = 'x-nanobot-fallback';

/** `POST /v1/audio/speech` and `POST /v1/images/generations`. */
export function mediaRoutes(gw: MediaRunner): Route[] {
  return [
    {
      ...ROUTES.speech,
      handle: async (call) => {
        const { serving, req } = parseSpeech(jsonBody(call.event));
        return served(call, await gw.speech(serving, req, call.deadline, { fallback: header(call, FALLBACK_HEADER), ...waitOf(call) }));
      },
    },
    {
      ...ROUTES.images,
      handle: async (call) => {
        const { serving, req } = parseImages(jsonBody(call.event));
        return served(call, await gw.images(serving, req, call.deadline, { fallback: header(call, FALLBACK_HEADER), ...waitOf(call) }));
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

/** A media answer, naming the provider that answered and, after a fallback, the one that could not. */
function served(call: Call, r: Served): HttpResult {
  const res = answer(call, r.provider, r, streamed);
  if (r.from) res.headers = { ...res.headers, 'x-nanobot-fallback-from': r.from };
  return res;
}

function header(call: Call, name: string): string | undefined {
  const h = call.event.headers ?? {};
  const k = Object.keys(h).find((x) => x.toLowerCase() === name);
  return k === undefined ? undefined : h[k] ?? undefined;
}

/**
 * `x-nanobot-max-wait-ms`: lowers the queue wait for this request (0: a fast 429 rather than a
 * wait); ignored unless a whole number. And the client's going away: it leaves the queue.
 */
function waitOf(call: Call): { maxWaitMs?: number; signal?: AbortSignal } {
  const v = header(call, 'x-nanobot-max-wait-ms');
  return { ...(v !== undefined && /^\d{1,9}$/.test(v.trim()) ? { maxWaitMs: Number(v) } : {}), ...(call.signal ? { signal: call.signal } : {}) };
}

function failed(call: Call, provider: string, f: Failure): HttpResult {
  return errorResult(failureToHttp(f, provider), call.requestId);
}

/** A relayed answer: the bytes go to the client as they arrive. */
function streamed(m: MediaStream): HttpResult {
  return { statusCode: 200, headers: { 'content-type': m.contentType }, stream: m.body };
}
