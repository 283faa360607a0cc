import type { Classification, UpstreamAnswer } from '../core/types';
import { AudioResult, CONTENT_TYPE, ImageDatum, ImageRequest, ImagesResult, SpeechRequest } from '../core/media';
import { parseGoDuration, retryAfterMsFrom } from '../keys/retry-hints';
import type { KeyLease } from '../keys/key-pool';
import { MalformedAnswer, Operation, RawAnswer, obj, safeCode } from './upstream';

/** Newer quota bodies keep `type: insufficient_quota` but vary `code` (providers.md §1, partly unconfirmed). */
const QUOTA_CODES = new Set([
  'insufficient_quota',
  'credit_balance_exhausted',
  'organization_spend_limit_exceeded',
  'project_spend_limit_exceeded',
  'organization_usage_limit_exceeded',
  'billing_hard_limit_reached',
]);
/** 429s that are the platform's load, not this key's budget. */
const OVERLOAD_CODES = new Set(['server_is_overloaded', 'slow_down', 'engine_overloaded']);

/**
 * OpenAI: 429 is ambiguous — `rate_limit_exceeded` cools the key, `insufficient_quota` disables it
 * (LiteLLM conflates them). Any 401 means the key is unusable.
 */
export function classifyOpenAI(a: UpstreamAnswer, now: number): Classification {
  const err = obj(obj(a.body)?.error);
  const code = safeCode(err?.code) ?? safeCode(err?.type);
  const { status } = a;
  if (status >= 200 && status < 300) {
    // OpenAI reports the request budget on every answer: spent now means the next call would 429.
    if (a.headers['x-ratelimit-remaining-requests']?.trim() === '0') {
      const reset = parseGoDuration(a.headers['x-ratelimit-reset-requests'] ?? '');
      if (reset !== undefined && reset > 0) return { outcome: 'ok', budgetSpentForMs: reset };
    }
    return { outcome: 'ok' };
  }
  if (status === 429) {
    if (QUOTA_CODES.has(String(err?.code)) || QUOTA_CODES.has(String(err?.type))) {
      return { outcome: 'quota_exhausted', code };
    }
    if (OVERLOAD_CODES.has(String(err?.code))) return { outcome: 'overloaded', code, retryAfterMs: retryAfterMsFrom(a.headers, now) };
    return { outcome: 'rate_limited', code: code ?? 'rate_limit_exceeded', retryAfterMs: retryAfterMsFrom(a.headers, now) };
  }
  if (status === 401) return { outcome: 'invalid_key', code: code ?? 'invalid_api_key' };
  if (status === 408 || status === 409 || status >= 500) return { outcome: 'overloaded', code };
  return { outcome: 'bad_request', code };
}

function auth(key: KeyLease): Record<string, string> {
  return { authorization: `Bearer ${key.secret()}` };
}

export function openaiSpeech(baseUrl: string, req: SpeechRequest): Operation<AudioResult> {
  const body = JSON.stringify({
    model: req.model,
    input: req.input,
    voice: req.voice,
    response_format: req.response_format,
    ...(req.speed !== undefined ? { speed: req.speed } : {}),
    ...(req.instructions !== undefined ? { instructions: req.instructions } : {}),
  });
  return {
    replaySafe: true,
    request: (key) => ({
      method: 'POST',
      url: `${baseUrl}/audio/speech`,
      headers: { ...auth(key), 'content-type': 'application/json', accept: 'application/octet-stream' },
      body,
    }),
    classify: classifyOpenAI,
    decode: (a) => audioFrom(a, CONTENT_TYPE[req.response_format]),
  };
}

export function openaiImages(baseUrl: string, req: ImageRequest): Operation<ImagesResult> {
  const gptImage = req.model.startsWith('gpt-image');
  const body = JSON.stringify({
    model: req.model,
    prompt: req.prompt,
    n: req.n,
    ...(req.size !== undefined ? { size: req.size } : {}),
    ...(req.quality !== undefined ? { quality: req.quality } : {}),
    ...(req.style !== undefined ? { style: req.style } : {}),
    // GPT image models always answer b64_json and reject the parameter.
    ...(gptImage ? {} : { response_format: req.response_format }),
  });
  return {
    replaySafe: true,
    request: (key) => ({
      method: 'POST',
      url: `${baseUrl}/images/generations`,
      headers: { ...auth(key), 'content-type': 'application/json' },
      body,
    }),
    classify: classifyOpenAI,
    decode: (a) => {
      const o = obj(a.body);
      const data = o?.data;
      if (!Array.isArray(data) || data.length === 0) throw new MalformedAnswer('images: no data[]');
      const out: ImageDatum[] = data.map((d) => {
        const item = obj(d);
        const revised = typeof item?.revised_prompt === 'string' ? { revised_prompt: item.revised_prompt } : {};
        if (typeof item?.url === 'string') return { url: item.url, ...revised };
        if (typeof item?.b64_json === 'string') return { b64_json: item.b64_json, ...revised };
        throw new MalformedAnswer('images: item without url or b64_json');
      });
      const created = typeof o?.created === 'number' ? o.created : Math.floor(Date.now() / 1000);
      return { created, data: out };
    },
  };
}

/** A 2xx audio answer: bytes, non-empty, not a JSON error in disguise. */
export function audioFrom(a: RawAnswer, contentType: string): AudioResult {
  if (a.raw.length === 0) throw new MalformedAnswer('empty audio');
  const ct = a.headers['content-type'] ?? '';
  if (/json|text\/html/i.test(ct)) throw new MalformedAnswer('audio route answered with a document');
  return { contentType, audio: a.raw };
}
