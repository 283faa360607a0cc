/**
 * OpenAI imitation (base `<root>/openai/v1`, like https://api.openai.com/v1).
 *   POST /v1/audio/speech         -> audio bytes (chunked), Content-Type per response_format, sized by input
 *   POST /v1/images/generations   -> {created, data:[{url}|{b64_json}]}
 *   GET  /v1/models               -> {object:"list", data:[{id, object:"model", created, owned_by}]} (probe)
 * Auth `Authorization: Bearer <key>`; errors `{"error":{message,type,param,code}}`; header x-request-id.
 */
import { createHash } from 'node:crypto';
import { AAC_TONE, bufferSource, FLAC_TONE, MP3_TONE, OGG_OPUS_TONE, pcm16, sizedAudio, speechSeconds, wav, type AudioCodec, type ByteSource } from './audio';
import { JPEG_IMAGE, padImage, png } from './files';
import { goDuration, retryHeaders, type LimitVerdict } from './limits';
import { echoText, headerSafe, type ErrorFault, type Exchange, type Route, type SandboxCore, type VendorModule } from './server';
import type { RetryHint } from './types';
import { humanWait, isRecord, randomAlnum, randomHex } from './util';

export const OPENAI_KEY_PATTERN = /^sk-[A-Za-z0-9_-]{16,}$/;

export const TTS_MODELS = ['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts', 'gpt-4o-mini-tts-2025-12-15'];
export const TTS_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];
export const TTS_FORMATS: Record<string, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};
/** Bytes per second of audio per response_format: pcm is 24 kHz 16-bit mono; the compressed rates
 * are the sandbox's assumption (mp3/aac 128 kb/s, opus 64 kb/s, flac about 60 % of pcm). */
export const TTS_BYTE_RATES: Record<string, number> = { mp3: 16000, opus: 8000, aac: 16000, flac: 30000, wav: 48000, pcm: 48000 };
const GPT_IMAGE_MODELS = ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2'];
const IMAGE_MODELS = ['dall-e-2', 'dall-e-3', ...GPT_IMAGE_MODELS];
const GPT_IMAGE_ONLY = ['background', 'output_format', 'output_compression', 'moderation', 'stream', 'partial_images'];
const IMAGE_PARAMS = ['prompt', 'model', 'n', 'quality', 'response_format', 'size', 'style', 'user', ...GPT_IMAGE_ONLY];

class OpenAIError {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly type: string,
    readonly param: string | null,
    readonly code: string | null,
  ) {}
}

function body(e: OpenAIError): unknown {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

function bad(message: string, param: string | null, code: string | null): OpenAIError {
  return new OpenAIError(400, message, 'invalid_request_error', param, code);
}

function list(values: string[]): string {
  const q = values.map((v) => `'${v}'`);
  return q.length > 1 ? `${q.slice(0, -1).join(', ')}, and ${q[q.length - 1] ?? ''}` : (q[0] ?? '');
}

function invalidValue(param: string, value: unknown, allowed: string[]): OpenAIError {
  return bad(`Invalid value: '${String(value)}'. Supported values are: ${list(allowed)}.`, param, 'invalid_value');
}

/** Real OpenAI echoes a masked fragment of the key; so does the sandbox (to test no-passthrough). */
export function maskKey(key: string): string {
  if (key.length <= 8) return `${key.slice(0, 3)}****`;
  return `${key.slice(0, 8)}${'*'.repeat(Math.min(24, Math.max(4, key.length - 12)))}${key.slice(-4)}`;
}

function parseBody(ex: Exchange): Record<string, unknown> | OpenAIError {
  const parsed = ex.json();
  if (!parsed.ok || !isRecord(parsed.value)) {
    return bad(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
      null,
      null,
    );
  }
  return parsed.value;
}

function modelOf(ex: Exchange, fallback: string): string {
  const parsed = ex.json();
  if (parsed.ok && isRecord(parsed.value) && typeof parsed.value.model === 'string') return parsed.value.model;
  return fallback;
}

function modelNotFound(model: string): OpenAIError {
  return new OpenAIError(404, `The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', null, 'model_not_found');
}

function checkNumber(v: unknown, param: string, min: number, max: number, integer: boolean): OpenAIError | null {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    return bad(`Invalid type for '${param}': expected ${integer ? 'an integer' : 'a decimal'}, but got ${typeof v} instead.`, param, 'invalid_type');
  }
  const noun = integer ? 'integer' : 'decimal';
  if (v < min) return bad(`Invalid '${param}': ${noun} below minimum value. Expected a value >= ${min}, but got ${v} instead.`, param, `${noun}_below_min_value`);
  if (v > max) return bad(`Invalid '${param}': ${noun} above maximum value. Expected a value <= ${max}, but got ${v} instead.`, param, `${noun}_above_max_value`);
  return null;
}

function checkString(v: unknown, param: string, max: number): OpenAIError | null {
  if (v === undefined || v === null) return bad(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
  if (typeof v !== 'string') return bad(`Invalid type for '${param}': expected a string, but got ${typeof v} instead.`, param, 'invalid_type');
  if (v.length > max) {
    return bad(`Invalid '${param}': string too long. Expected a string with maximum length ${max}, but got a string with length ${v.length} instead.`, param, 'string_above_max_length');
  }
  return null;
}

interface SpeechRequest {
  model: string;
  input: string;
  voice: string;
  format: string;
  speed: number;
  sse: boolean;
}

function validateSpeech(b: Record<string, unknown>): SpeechRequest | OpenAIError {
  const allowed = ['model', 'input', 'voice', 'instructions', 'response_format', 'speed', 'stream_format'];
  for (const k of Object.keys(b)) {
    if (!allowed.includes(k)) return bad(`Unrecognized request argument supplied: ${k}`, null, null);
  }
  if (typeof b.model !== 'string' || b.model === '') return bad('you must provide a model parameter', null, null);
  const model = b.model;
  if (!TTS_MODELS.includes(model)) return modelNotFound(model);
  const inputErr = checkString(b.input, 'input', 4096);
  if (inputErr) return inputErr;
  const voice = b.voice;
  if (voice === undefined || voice === null) return bad("Missing required parameter: 'voice'.", 'voice', 'missing_required_parameter');
  if (isRecord(voice)) {
    if (typeof voice.id !== 'string' || !voice.id.startsWith('voice_')) return bad("Invalid 'voice.id': expected a custom voice id like 'voice_...'.", 'voice.id', 'invalid_value');
  } else if (typeof voice !== 'string' || !TTS_VOICES.includes(voice)) {
    return invalidValue('voice', typeof voice === 'string' ? voice : JSON.stringify(voice), TTS_VOICES);
  }
  if (b.instructions !== undefined) {
    const e = checkString(b.instructions, 'instructions', 4096);
    if (e) return e;
    if (model === 'tts-1' || model === 'tts-1-hd') return bad(`Instructions are not supported for ${model}.`, 'instructions', 'unsupported_parameter');
  }
  const format = b.response_format ?? 'mp3';
  if (typeof format !== 'string' || !(format in TTS_FORMATS)) return invalidValue('response_format', format, Object.keys(TTS_FORMATS));
  if (b.speed !== undefined) {
    const e = checkNumber(b.speed, 'speed', 0.25, 4, false);
    if (e) return e;
  }
  const streamFormat = b.stream_format ?? 'audio';
  if (streamFormat !== 'audio' && streamFormat !== 'sse') return invalidValue('stream_format', streamFormat, ['audio', 'sse']);
  if (streamFormat === 'sse' && (model === 'tts-1' || model === 'tts-1-hd')) {
    return bad(`stream_format 'sse' is not supported for ${model}.`, 'stream_format', 'unsupported_value');
  }
  return {
    model,
    input: b.input as string,
    voice: typeof voice === 'string' ? voice : JSON.stringify(voice),
    format,
    speed: typeof b.speed === 'number' ? b.speed : 1,
    sse: streamFormat === 'sse',
  };
}

function speechAudio(format: string): Buffer {
  switch (format) {
    case 'opus':
      return OGG_OPUS_TONE;
    case 'aac':
      return AAC_TONE;
    case 'flac':
      return FLAC_TONE;
    case 'wav':
      return wav({ sampleRate: 24000, seconds: 1 });
    case 'pcm':
      return pcm16({ sampleRate: 24000, seconds: 1 });
    default:
      return MP3_TONE;
  }
}

/**
 * The speech body: up to 1 s of speech (about 15 characters) the 1 s tone of earlier versions; longer
 * input round(seconds × byte rate) bytes (+44 for wav), `bytes` exactly when given (body_size fault).
 */
function speechSource(r: SpeechRequest, bytes: number | undefined): ByteSource {
  const seconds = speechSeconds(r.input.length, r.speed);
  if (bytes === undefined && seconds <= 1) return bufferSource(speechAudio(r.format));
  const rate = TTS_BYTE_RATES[r.format] ?? 16000;
  const size = bytes ?? (r.format === 'pcm' || r.format === 'wav' ? 2 * Math.round((seconds * rate) / 2) : Math.round(seconds * rate)) + (r.format === 'wav' ? 44 : 0);
  return sizedAudio(r.format as AudioCodec, 24000, size, `${r.model}|${r.voice}|${r.speed}|${r.input}`);
}

/** A stable project id for a key (OpenAI names the project in its model-access 403). */
function projectId(key: string): string {
  return `proj_${createHash('sha256').update(`project:${key}`).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}`;
}

const MODEL_CREATED: Record<string, number> = {
  'tts-1': 1681940951,
  'tts-1-hd': 1699046015,
  'gpt-4o-mini-tts': 1742403959,
  'gpt-4o-mini-tts-2025-12-15': 1765756800,
  'dall-e-2': 1698798177,
  'dall-e-3': 1698785189,
  'gpt-image-1': 1745517030,
  'gpt-image-1-mini': 1759190400,
  'gpt-image-1.5': 1765238400,
  'gpt-image-2': 1776211200,
};

interface ImageRequest {
  model: string;
  prompt: string;
  n: number;
  size: string;
  quality: string;
  b64: boolean;
  outputFormat: string;
}

function validateImages(b: Record<string, unknown>): ImageRequest | OpenAIError {
  for (const k of Object.keys(b)) {
    if (!IMAGE_PARAMS.includes(k)) return bad(`Unknown parameter: '${k}'.`, k, 'unknown_parameter');
  }
  const usesGptOnly = GPT_IMAGE_ONLY.some((k) => b[k] !== undefined);
  const model = b.model ?? (usesGptOnly ? 'gpt-image-1' : 'dall-e-2');
  if (typeof model !== 'string') return bad("Invalid type for 'model': expected a string.", 'model', 'invalid_type');
  if (!IMAGE_MODELS.includes(model)) return modelNotFound(model);
  const gpt = GPT_IMAGE_MODELS.includes(model);
  const maxPrompt = model === 'dall-e-2' ? 1000 : model === 'dall-e-3' ? 4000 : 32000;
  const pErr = checkString(b.prompt, 'prompt', maxPrompt);
  if (pErr) return pErr;
  if (!gpt) {
    for (const k of GPT_IMAGE_ONLY) if (b[k] !== undefined) return bad(`Unknown parameter: '${k}'.`, k, 'unknown_parameter');
  }
  const n = b.n ?? 1;
  const nErr = checkNumber(n, 'n', 1, 10, true);
  if (nErr) return nErr;
  if (model === 'dall-e-3' && n !== 1) return bad('You must provide n=1 for this model.', 'n', null);
  const sizes =
    model === 'dall-e-2' ? ['256x256', '512x512', '1024x1024'] : model === 'dall-e-3' ? ['1024x1024', '1792x1024', '1024x1792'] : ['1024x1024', '1536x1024', '1024x1536', 'auto'];
  const size = b.size ?? (gpt ? 'auto' : '1024x1024');
  if (typeof size !== 'string' || !sizes.includes(size)) return invalidValue('size', size, sizes);
  const qualities = model === 'dall-e-2' ? ['standard', 'auto'] : model === 'dall-e-3' ? ['standard', 'hd', 'auto'] : ['low', 'medium', 'high', 'auto'];
  const quality = b.quality ?? 'auto';
  if (typeof quality !== 'string' || !qualities.includes(quality)) return invalidValue('quality', quality, qualities);
  if (b.style !== undefined) {
    if (model !== 'dall-e-3') return bad(`Unknown parameter: 'style'.`, 'style', 'unknown_parameter');
    if (b.style !== 'vivid' && b.style !== 'natural') return invalidValue('style', b.style, ['vivid', 'natural']);
  }
  let b64 = gpt;
  if (b.response_format !== undefined) {
    if (gpt) return bad(`Unknown parameter: 'response_format'.`, 'response_format', 'unknown_parameter');
    if (b.response_format !== 'url' && b.response_format !== 'b64_json') return invalidValue('response_format', b.response_format, ['url', 'b64_json']);
    b64 = b.response_format === 'b64_json';
  }
  if (b.stream === true) return bad('Streaming image generation is not supported by the sandbox.', 'stream', 'unsupported_value');
  const outputFormat = b.output_format ?? 'png';
  if (typeof outputFormat !== 'string' || !['png', 'jpeg', 'webp'].includes(outputFormat)) return invalidValue('output_format', outputFormat, ['png', 'jpeg', 'webp']);
  return { model, prompt: b.prompt as string, n: n as number, size, quality, b64, outputFormat };
}

export function createOpenAI(core: SandboxCore): VendorModule {
  const send = (ex: Exchange, e: OpenAIError, headers: Record<string, string> = {}): void => ex.sendJson(e.status, body(e), { headers });
  const processing = (): Record<string, string> => ({
    'openai-processing-ms': String(40 + Math.floor(Math.random() * 400)),
    'openai-version': '2020-10-01',
    'openai-organization': 'user-sandbox',
  });

  const rateLimitedBody = (ex: Exchange, _key: string, verdict: LimitVerdict, hint: RetryHint): void => {
    const limit = verdict.limit?.calls ?? 0;
    const model = modelOf(ex, ex.path.includes('images') ? 'dall-e-2' : 'tts-1');
    const e = new OpenAIError(
      429,
      `Rate limit reached for ${model} in organization org-sandbox on requests per min (RPM): Limit ${limit}, Used ${limit}, Requested 1. Please try again in ${humanWait(verdict.resetMs)}. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      'requests',
      null,
      'rate_limit_exceeded',
    );
    const headers: Record<string, string> = {
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': '0',
      ...retryHeaders(hint, verdict.resetMs, core.now(), true),
    };
    send(ex, e, headers);
  };

  const invalidKey = (ex: Exchange, key: string): void => {
    const msg =
      key === ''
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys."
        : `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
    send(ex, new OpenAIError(401, msg, 'invalid_request_error', null, 'invalid_api_key'));
  };

  /** A model the key's project may not use (KeyRule.restrict.deniedModels), answered; false if allowed. */
  const deniedModel = (ex: Exchange, key: string, model: string): boolean => {
    const r = core.ruleFor('openai', key).restrict;
    if (!r?.deniedModels?.includes(model)) return false;
    if (r.deniedModelStatus === 404) send(ex, modelNotFound(model));
    else send(ex, new OpenAIError(403, `Project \`${projectId(key)}\` does not have access to model \`${model}\``, 'invalid_request_error', null, 'model_not_found'));
    return true;
  };

  const speech: Route['handle'] = (ex, key) => {
    const b = parseBody(ex);
    if (b instanceof OpenAIError) return send(ex, b);
    const r = validateSpeech(b);
    if (r instanceof OpenAIError) return send(ex, r);
    if (deniedModel(ex, key, r.model)) return;
    const audio = speechSource(r, ex.fault?.kind === 'body_size' ? ex.fault.bytes : undefined);
    const contentType = TTS_FORMATS[r.format] ?? 'audio/mpeg';
    const byteRate = TTS_BYTE_RATES[r.format] ?? 16000;
    if (r.sse) {
      const events: string[] = [];
      for (let i = 0; i < audio.length; i += 3000) {
        events.push(`data: ${JSON.stringify({ type: 'speech.audio.delta', audio: audio.read(i, 3000).toString('base64') })}\n\n`);
      }
      const inputTokens = Math.ceil(r.input.length / 4);
      events.push(`data: ${JSON.stringify({ type: 'speech.audio.done', usage: { input_tokens: inputTokens, output_tokens: 50, total_tokens: inputTokens + 50 } })}\n\n`);
      return ex.stream(200, bufferSource(Buffer.from(events.join(''))), 'text/event-stream; charset=utf-8', { headers: processing(), byteRate: (byteRate * 4) / 3 });
    }
    ex.stream(200, audio, contentType, { headers: processing(), byteRate });
  };

  const images: Route['handle'] = (ex, key) => {
    const b = parseBody(ex);
    if (b instanceof OpenAIError) return send(ex, b);
    const r = validateImages(b);
    if (r instanceof OpenAIError) return send(ex, r);
    if (deniedModel(ex, key, r.model)) return;
    const created = Math.floor(core.now() / 1000);
    const gpt = GPT_IMAGE_MODELS.includes(r.model);
    const data = Array.from({ length: r.n }, (_, i) => {
      const seed = `${r.prompt}#${i}#${randomHex(4)}`;
      const item: Record<string, unknown> = {};
      if (r.b64) item.b64_json = (gpt && r.outputFormat === 'jpeg' ? JPEG_IMAGE : png(seed)).toString('base64');
      else {
        const expiry = new Date(core.now() + 3_600_000).toISOString();
        item.url = `${core.root()}/files/image/img-${randomAlnum(24)}.png?seed=${encodeURIComponent(seed)}&se=${encodeURIComponent(expiry)}&sp=r&sig=sandbox`;
      }
      if (r.model === 'dall-e-3') item.revised_prompt = `A detailed rendering of: ${r.prompt}`;
      return item;
    });
    const out: Record<string, unknown> = { created, data };
    if (gpt) {
      const inputTokens = Math.ceil(r.prompt.length / 4);
      const outputTokens = 1056 * r.n;
      Object.assign(out, {
        background: 'opaque',
        output_format: r.outputFormat,
        quality: r.quality === 'auto' ? 'medium' : r.quality,
        size: r.size === 'auto' ? '1024x1024' : r.size,
        usage: {
          input_tokens: inputTokens,
          input_tokens_details: { text_tokens: inputTokens, image_tokens: 0 },
          output_tokens: outputTokens,
          total_tokens: inputTokens + outputTokens,
        },
      });
    }
    if (ex.fault?.kind === 'body_size' && r.b64) {
      // Grow every image alike so that the whole JSON answer is about `bytes` long.
      const base = JSON.stringify(out).length;
      const perImage = Math.max(0, Math.floor((((ex.fault.bytes - base) / r.n) * 3) / 4));
      data.forEach((item, i) => {
        const raw = Buffer.from(String(item.b64_json), 'base64');
        item.b64_json = padImage(raw, raw.length + perImage, `${r.prompt}#${i}`).toString('base64');
      });
    }
    ex.sendJson(200, out, { headers: processing() });
  };

  const models: Route['handle'] = (ex, key) => {
    const denied = core.ruleFor('openai', key).restrict?.deniedModels ?? [];
    const data = [...TTS_MODELS, ...IMAGE_MODELS]
      .filter((id) => !denied.includes(id))
      .map((id) => ({ id, object: 'model', created: MODEL_CREATED[id] ?? 1700000000, owned_by: 'system' }));
    ex.sendJson(200, { object: 'list', data }, { headers: processing() });
  };

  return {
    vendor: 'openai',
    prefix: '/openai',
    requestIdHeader: 'x-request-id',
    newRequestId: () => `req_${randomHex(16)}`,

    authenticate(ex) {
      const h = ex.header('authorization') ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      const key = m?.[1] ?? '';
      const valid = key !== '' && (core.isKnown('openai', key) || (core.acceptUnknownKeys && OPENAI_KEY_PATTERN.test(key)));
      if (valid) return { ok: true, key };
      return { ok: false, key, reply: (e) => invalidKey(e, key) };
    },

    match(method, path): Route | null {
      if (method === 'POST' && path === '/v1/audio/speech') return { kind: 'audio', limited: true, params: {}, handle: speech, scope: 'api.model.audio.request', sizable: true };
      if (method === 'POST' && path === '/v1/images/generations') return { kind: 'json', limited: true, params: {}, handle: images, scope: 'api.model.images.request', sizable: true };
      if (method === 'GET' && path === '/v1/models') return { kind: 'json', limited: false, params: {}, handle: models, scope: 'api.model.read', probe: true };
      return null;
    },

    notFound(ex) {
      send(ex, new OpenAIError(404, `Invalid URL (${ex.method} ${ex.path})`, 'invalid_request_error', null, null));
    },

    invalidKey,

    quota(ex) {
      send(
        ex,
        new OpenAIError(
          429,
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
          'insufficient_quota',
          null,
          'insufficient_quota',
        ),
      );
    },

    rateLimited: rateLimitedBody,

    fault(ex, fault: ErrorFault, key) {
      if (fault.kind === 'concurrency' || (fault.kind === 'status' && fault.status === 429)) {
        const limit = core.limitFor('openai', key);
        return rateLimitedBody(ex, key, { ok: false, limit, remaining: 0, resetMs: 1000 }, core.hintFor('openai', key));
      }
      if (fault.kind === 'system_busy') {
        return send(ex, new OpenAIError(503, 'The engine is currently overloaded, please try again later.', 'server_error', null, null));
      }
      const s = fault.status;
      if (s === 401) return invalidKey(ex, key);
      const messages: Record<number, [string, string]> = {
        400: ['Bad request.', 'invalid_request_error'],
        403: ['You are not allowed to sample from this model.', 'invalid_request_error'],
        404: [`Invalid URL (${ex.method} ${ex.path})`, 'invalid_request_error'],
        408: ['Request timed out.', 'server_error'],
        409: ['The request conflicted with another request.', 'invalid_request_error'],
        500: ['The server had an error while processing your request. Sorry about that!', 'server_error'],
        502: ['Bad gateway.', 'server_error'],
        503: ['The engine is currently overloaded, please try again later.', 'server_error'],
        504: ['Gateway timeout.', 'server_error'],
      };
      const [msg, type] = messages[s] ?? (s >= 500 ? ['The server had an error while processing your request. Sorry about that!', 'server_error'] : ['Request failed.', 'invalid_request_error']);
      send(ex, new OpenAIError(s, msg, type, null, null));
    },

    echo(ex, fault, key) {
      const t = echoText(fault, { key });
      ex.sendJson(fault.status ?? 500, { error: { message: t, type: t, param: t, code: t } }, { headers: { 'x-request-id': headerSafe(t) } });
    },

    missingScope(ex, _key, scope, status) {
      send(
        ex,
        new OpenAIError(
          status ?? 401,
          `You have insufficient permissions for this operation. Missing scopes: ${scope}. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.`,
          'invalid_request_error',
          null,
          null,
        ),
      );
    },

    admitted(ex, verdict) {
      const limited = verdict.limit !== null;
      ex.headers['x-ratelimit-limit-requests'] = String(limited ? verdict.limit?.calls : 10000);
      ex.headers['x-ratelimit-remaining-requests'] = String(limited ? verdict.remaining : 9999);
      ex.headers['x-ratelimit-reset-requests'] = limited ? goDuration(verdict.resetMs) : '6ms';
    },
  };
}
