// zod/mini: the same validation core without the method-chaining classes — a tenth of the bundle
// (cold start is latency too).
import * as z from 'zod/mini';
import { ImageRequest, InvalidRequest, SPEECH_FORMATS, SpeechRequest } from '../domain';
import { imageProviderFor, jobProviderFor, ProviderId, speechProviderFor } from '../providers/registry';
import type { ImageProvider, JobProvider, SpeechProvider } from '../providers/types';
import { HttpError, invalid } from './errors';

/**
 * Request validation: everything a provider would refuse is refused here, with an OpenAI-style 400
 * and no provider call. The route's structure by zod; the serving provider's own rules (lengths,
 * sizes, ranges, voices) by that provider's `validate`, found through the registry by model.
 */

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

export function parseSpeech(body: unknown): { provider: ProviderId; req: SpeechRequest; serving: SpeechProvider<ProviderId> } {
  const p = parseWith(speechSchema, body);
  const serving = speechProviderFor(p.model);
  if (!serving) throw unknownModel(p.model, 'audio/speech');
  if (p.stream_format === 'sse') throw invalid('stream_format "sse" is not supported by this gateway; use "audio".', 'stream_format', 'unsupported_value');
  const { stream_format: _sse, ...input } = p;
  return { provider: serving.id, req: byProvider(() => serving.validate(input)), serving };
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

export function parseImages(body: unknown): { provider: ProviderId; req: ImageRequest; serving: ImageProvider<ProviderId> } {
  const { user: _user, ...input } = parseWith(imageSchema, body);
  const serving = imageProviderFor(input.model);
  if (!serving) throw unknownModel(input.model, 'images/generations');
  return { provider: serving.id, req: byProvider(() => serving.validate(input)), serving };
}

/** A provider's refusal (`InvalidRequest`) as the HTTP layer's 400. */
function byProvider<T>(validate: () => T): T {
  try {
    return validate();
  } catch (err) {
    if (err instanceof InvalidRequest) throw invalid(err.message, err.param, err.code);
    throw err;
  }
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

const videoSchema = z.strictObject({
  model: nonEmpty('model'),
  prompt: nonEmpty('prompt'),
  seconds: z.optional(z.union([z.string(), z.number()])),
  size: z.optional(z.string()),
  aspect_ratio: z.optional(z.string()),
  negative_prompt: z.optional(z.string()),
});

/** What a job route hands on: the serving provider checked it; the job keeps model and prompt. */
type JobRequest = { model: string; prompt: string };

export function parseVideo(body: unknown): { provider: ProviderId; req: JobRequest; serving: JobProvider<ProviderId> } {
  const input = parseWith(videoSchema, body);
  const serving = jobProviderFor('video', input.model);
  if (!serving) throw unknownModel(input.model, 'videos');
  return { provider: serving.id, req: byProvider(() => serving.validate(input)), serving };
}

const audioGenerationSchema = z.strictObject({
  model: nonEmpty('model'),
  prompt: nonEmpty('prompt'),
  seconds: z.optional(z.number()),
});

export function parseAudioGeneration(body: unknown): { provider: ProviderId; req: JobRequest; serving: JobProvider<ProviderId> } {
  const input = parseWith(audioGenerationSchema, body);
  const serving = jobProviderFor('audio.generation', input.model);
  if (!serving) throw unknownModel(input.model, 'audio/generations');
  return { provider: serving.id, req: byProvider(() => serving.validate(input)), serving };
}
