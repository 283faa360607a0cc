// zod/mini: the same validation core without the method-chaining classes — a tenth of the bundle
// (cold start is latency too).
import * as z from 'zod/mini';
import type { ProviderId } from '../core/types';
import { ImageRequest, SPEECH_FORMATS, SpeechRequest } from '../core/media';
import { ELEVENLABS_OUTPUT_FORMAT, elevenLabsMaxChars } from '../providers/elevenlabs';
import { falImageSize } from '../providers/fal';
import { FAL_AUDIO_MODELS, KLING_VIDEO_MODELS, imageProviderFor, speechProviderFor } from '../providers/models';
import type { VideoRequest } from '../providers/kling-video';
import type { AudioGenerationRequest } from '../providers/fal-queue';
import { HttpError, invalid } from './errors';

/**
 * Request validation: everything a provider would refuse is refused here, with an OpenAI-style 400
 * and no provider call. Structure by zod; per-model rules (lengths, sizes, ranges) by hand below.
 */

export const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;
const OPENAI_INPUT_MAX = 4096;
const ELEVENLABS_VOICE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const nonEmpty = (name: string) => z.string().check(z.minLength(1, `${name} must not be empty`));

const speechSchema = z.strictObject({
  model: nonEmpty('model'),
  input: nonEmpty('input'),
  voice: nonEmpty('voice'),
  response_format: z._default(z.enum(SPEECH_FORMATS), 'mp3'),
  speed: z.optional(z.number()),
  instructions: z.optional(z.string().check(z.maxLength(4096, 'at most 4096 characters'))),
  stream_format: z.optional(z.enum(['audio', 'sse'])),
});

export function parseSpeech(body: unknown): { provider: ProviderId; req: SpeechRequest } {
  const p = parseWith(speechSchema, body);
  const provider = speechProviderFor(p.model);
  if (!provider) throw unknownModel(p.model, 'audio/speech');
  if (p.stream_format === 'sse') throw invalid('stream_format "sse" is not supported by this gateway; use "audio".', 'stream_format', 'unsupported_value');
  const req: SpeechRequest = { model: p.model, input: p.input, voice: p.voice, response_format: p.response_format };
  if (provider === 'openai-tts') {
    if (p.input.length > OPENAI_INPUT_MAX) throw tooLong('input', OPENAI_INPUT_MAX);
    if (!(OPENAI_VOICES as readonly string[]).includes(p.voice)) {
      throw invalid(`voice must be one of ${OPENAI_VOICES.join(', ')} for ${p.model}.`, 'voice');
    }
    if (p.speed !== undefined) req.speed = range('speed', p.speed, 0.25, 4);
    if (p.instructions !== undefined) {
      if (p.model === 'tts-1' || p.model === 'tts-1-hd') throw invalid(`instructions are not supported by ${p.model}.`, 'instructions', 'unsupported_parameter');
      req.instructions = p.instructions;
    }
  } else {
    const max = elevenLabsMaxChars(p.model);
    if (p.input.length > max) throw tooLong('input', max);
    if (!ELEVENLABS_VOICE_ID.test(p.voice)) throw invalid('voice must be an ElevenLabs voice id.', 'voice');
    if (!Object.hasOwn(ELEVENLABS_OUTPUT_FORMAT, p.response_format)) {
      throw invalid(`response_format ${p.response_format} is not available for ElevenLabs models; use mp3, opus, wav or pcm.`, 'response_format', 'unsupported_value');
    }
    // ElevenLabs voice_settings.speed accepts 0.7–1.2.
    if (p.speed !== undefined) req.speed = range('speed', p.speed, 0.7, 1.2);
    if (p.instructions !== undefined) throw invalid('instructions are not supported by ElevenLabs models.', 'instructions', 'unsupported_parameter');
  }
  return { provider, req };
}

const imageSchema = z.strictObject({
  model: z._default(nonEmpty('model'), 'dall-e-2'),
  prompt: nonEmpty('prompt'),
  n: z.optional(z.int()),
  size: z.optional(z.string()),
  quality: z.optional(z.string()),
  response_format: z._default(z.enum(['url', 'b64_json']), 'url'),
  style: z.optional(z.string()),
  user: z.optional(z.string().check(z.maxLength(256, 'at most 256 characters'))),
});

interface ImageRules {
  promptMax: number;
  nMax: number;
  sizes?: readonly string[];
  qualities: readonly string[];
  styles?: readonly string[];
}

const IMAGE_RULES: Record<string, ImageRules> = {
  'dall-e-2': { promptMax: 1000, nMax: 10, sizes: ['256x256', '512x512', '1024x1024'], qualities: ['standard', 'auto'] },
  'dall-e-3': { promptMax: 4000, nMax: 1, sizes: ['1024x1024', '1792x1024', '1024x1792'], qualities: ['standard', 'hd', 'auto'], styles: ['vivid', 'natural'] },
  'gpt-image': { promptMax: 32000, nMax: 10, sizes: ['1024x1024', '1536x1024', '1024x1536', 'auto'], qualities: ['low', 'medium', 'high', 'auto'] },
  // fal flux: up to 4 images per call; sizes are checked by falImageSize; quality has no fal equivalent.
  fal: { promptMax: 10000, nMax: 4, qualities: ['standard', 'hd', 'auto'] },
};

export function parseImages(body: unknown): { provider: ProviderId; req: ImageRequest } {
  const p = parseWith(imageSchema, body);
  const provider = imageProviderFor(p.model);
  if (!provider) throw unknownModel(p.model, 'images/generations');
  const rules = IMAGE_RULES[provider === 'fal-flux' ? 'fal' : p.model.startsWith('gpt-image') ? 'gpt-image' : p.model]; // model is known here
  if (p.prompt.length > rules.promptMax) throw tooLong('prompt', rules.promptMax);
  const n = p.n ?? 1;
  if (n < 1 || n > rules.nMax) throw invalid(`n must be between 1 and ${rules.nMax} for ${p.model}.`, 'n');
  if (p.size !== undefined) {
    const ok = provider === 'fal-flux' ? falImageSize(p.size) !== undefined : rules.sizes?.includes(p.size);
    if (!ok) {
      const allowed = provider === 'fal-flux' ? 'WIDTHxHEIGHT with sides 256–2048 in multiples of 8, or a fal preset' : rules.sizes?.join(', ');
      throw invalid(`size ${JSON.stringify(p.size)} is not supported for ${p.model}; use ${allowed}.`, 'size');
    }
  }
  if (p.quality !== undefined && !rules.qualities.includes(p.quality)) {
    throw invalid(`quality must be one of ${rules.qualities.join(', ')} for ${p.model}.`, 'quality');
  }
  if (p.style !== undefined && !rules.styles?.includes(p.style)) {
    throw invalid(rules.styles ? `style must be one of ${rules.styles.join(', ')}.` : `style is not supported for ${p.model}.`, 'style');
  }
  const req: ImageRequest = { model: p.model, prompt: p.prompt, n, response_format: p.response_format };
  if (p.size !== undefined && p.size !== 'auto') req.size = p.size;
  if (p.quality !== undefined && provider !== 'fal-flux') req.quality = p.quality;
  if (p.style !== undefined) req.style = p.style;
  return { provider, req };
}

/** Validates with a zod schema, turning the first issue into an OpenAI-style 400. */
export function parseWith<S extends z.ZodMiniType>(schema: S, body: unknown): z.output<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('The request body must be a JSON object.', null, 'invalid_json');
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    return fail(invalid(`Unrecognized request argument supplied: ${key}`, key, 'unknown_parameter'));
  }
  const param = issue.path.map(String).join('.') || null;
  const missing = issue.code === 'invalid_type' && valueAt(body, issue.path) === undefined;
  const message = missing ? `Missing required parameter: '${param}'.` : `Invalid '${param}': ${describe(issue)}.`;
  return fail(invalid(message, param, missing ? 'missing_required_parameter' : 'invalid_value'));
}

/** zod/mini carries no message locale: say what was expected from the issue itself. */
function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
    case 'too_big':
      return issue.message !== 'Invalid input' ? issue.message : `out of range`;
    default:
      return issue.message !== 'Invalid input' ? issue.message : 'invalid value';
  }
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = body;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function fail(e: HttpError): never {
  throw e;
}

function unknownModel(model: string, route: string): HttpError {
  return invalid(`The model '${model.slice(0, 80)}' is not served on ${route} by this gateway.`, 'model', 'model_not_found');
}

function tooLong(param: string, max: number): HttpError {
  return invalid(`'${param}' is too long: at most ${max} characters.`, param, 'string_above_max_length');
}

function range(param: string, v: number, lo: number, hi: number): number {
  if (v < lo || v > hi) throw invalid(`'${param}' must be between ${lo} and ${hi}.`, param);
  return v;
}

const VIDEO_SIZES: Record<string, '16:9' | '9:16' | '1:1'> = {
  '1280x720': '16:9',
  '1920x1080': '16:9',
  '720x1280': '9:16',
  '1080x1920': '9:16',
  '720x720': '1:1',
  '1024x1024': '1:1',
};

const videoSchema = z.strictObject({
  model: nonEmpty('model'),
  prompt: nonEmpty('prompt'),
  seconds: z.optional(z.union([z.string(), z.number()])),
  size: z.optional(z.string()),
  aspect_ratio: z.optional(z.string()),
  negative_prompt: z.optional(z.string()),
});

export function parseVideo(body: unknown): VideoRequest {
  const p = parseWith(videoSchema, body);
  if (!(KLING_VIDEO_MODELS as readonly string[]).includes(p.model)) throw unknownModel(p.model, 'videos');
  if (p.prompt.length > 2500) throw tooLong('prompt', 2500);
  if (p.negative_prompt !== undefined && p.negative_prompt.length > 2500) throw tooLong('negative_prompt', 2500);
  const seconds = p.seconds === undefined ? '5' : String(p.seconds);
  if (seconds !== '5' && seconds !== '10') throw invalid('seconds must be 5 or 10 for Kling models.', 'seconds');
  if (p.size !== undefined && p.aspect_ratio !== undefined) throw invalid('Give size or aspect_ratio, not both.', 'size');
  let aspect: '16:9' | '9:16' | '1:1' = '16:9';
  if (p.size !== undefined) {
    const a = Object.hasOwn(VIDEO_SIZES, p.size) ? VIDEO_SIZES[p.size] : undefined;
    if (!a) throw invalid(`size must be one of ${Object.keys(VIDEO_SIZES).join(', ')}.`, 'size');
    aspect = a;
  } else if (p.aspect_ratio !== undefined) {
    if (p.aspect_ratio !== '16:9' && p.aspect_ratio !== '9:16' && p.aspect_ratio !== '1:1') throw invalid('aspect_ratio must be 16:9, 9:16 or 1:1.', 'aspect_ratio');
    aspect = p.aspect_ratio;
  }
  return { model: p.model, prompt: p.prompt, seconds, aspect_ratio: aspect, ...(p.size ? { size: p.size } : {}), ...(p.negative_prompt ? { negative_prompt: p.negative_prompt } : {}) };
}

const audioGenerationSchema = z.strictObject({
  model: nonEmpty('model'),
  prompt: nonEmpty('prompt'),
  seconds: z.optional(z.number()),
});

export function parseAudioGeneration(body: unknown): AudioGenerationRequest {
  const p = parseWith(audioGenerationSchema, body);
  if (!(FAL_AUDIO_MODELS as readonly string[]).includes(p.model)) throw unknownModel(p.model, 'audio/generations');
  if (p.prompt.length > 2000) throw tooLong('prompt', 2000);
  const seconds = p.seconds ?? 30;
  if (!Number.isInteger(seconds)) throw invalid("'seconds' must be a whole number.", 'seconds');
  return { model: p.model, prompt: p.prompt, seconds: range('seconds', seconds, 1, 47) };
}
