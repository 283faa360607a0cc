import { ImageInput, InvalidRequest, SpeechInput } from '../../domain';
import type { MappingContext } from '../types';

/**
 * Requests written for another provider's model, taken over by OpenAI (a fallback). The rest —
 * speed range, instructions per model, n and sizes per model — is `validate`'s, as for any request.
 */

/** The voice when the map has none for the request's voice. */
export const OPENAI_DEFAULT_VOICE = 'alloy';

/** OpenAI's own speech models and voices (from `speech.ts`, passed in: no import cycle). */
export interface OpenAISpeechNames {
  models: readonly string[];
  voices: readonly string[];
}

/** An ElevenLabs voice id → the OpenAI voice the operator's map pairs with it (first one), else the default voice. */
export function openaiVoiceFor(voice: string, model: string, ctx: MappingContext, own: OpenAISpeechNames): string {
  if (own.models.includes(model) || own.voices.includes(voice)) return voice;
  const named = Object.entries(ctx.voices).find(([name, id]) => id === voice && own.voices.includes(name));
  return named ? named[0] : OPENAI_DEFAULT_VOICE;
}

export function adoptSpeech(input: SpeechInput, ctx: MappingContext, own: OpenAISpeechNames): SpeechInput {
  return { ...input, voice: openaiVoiceFor(input.voice, input.model, ctx, own) };
}

/** fal preset names that are OpenAI sizes; other presets are not. */
const SIZE_OF_PRESET: Record<string, string> = { square_hd: '1024x1024', square: '512x512' };

/** fal's quality (standard/hd) on GPT image models (low/medium/high). */
const GPT_IMAGE_QUALITY: Record<string, string> = { standard: 'medium', hd: 'high' };

export function adoptImage(input: ImageInput, target: string): ImageInput {
  const out: ImageInput = { ...input };
  if (input.size !== undefined && Object.hasOwn(SIZE_OF_PRESET, input.size)) out.size = SIZE_OF_PRESET[input.size];
  if (target.startsWith('gpt-image')) {
    // GPT image models answer b64_json only: a client that asked for URLs would get something else.
    if (input.response_format === 'url') throw new InvalidRequest(`${target} answers b64_json only; the request asks for url.`, 'response_format', 'unsupported_value');
    if (input.quality !== undefined && Object.hasOwn(GPT_IMAGE_QUALITY, input.quality)) out.quality = GPT_IMAGE_QUALITY[input.quality];
  }
  return out;
}
