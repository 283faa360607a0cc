import type { SpeechInput } from '../../domain';
import type { MappingContext } from '../types';

/**
 * Requests written for another provider's model, taken over by ElevenLabs (a fallback). Formats
 * (aac, flac have no `output_format`), the speed range (0.7–1.2) and instructions are `validate`'s.
 */

/** Rachel: the voice when the map has none for the request's voice. */
export const ELEVENLABS_DEFAULT_VOICE = '21m00Tcm4TlvDq8ikWAM';

/** An OpenAI voice name → its ElevenLabs voice id from the operator's map, else the default voice. */
export function elevenLabsVoiceFor(voice: string, fromOwnModel: boolean, ctx: MappingContext): string {
  if (fromOwnModel) return voice;
  if (Object.hasOwn(ctx.voices, voice)) return ctx.voices[voice];
  if (Object.values(ctx.voices).includes(voice)) return voice;
  return ELEVENLABS_DEFAULT_VOICE;
}

/** `ownModel`: whether a model is ElevenLabs' (its voice ids then carry over as they are). */
export function adoptSpeech(input: SpeechInput, ctx: MappingContext, ownModel: (m: string) => boolean): SpeechInput {
  return { ...input, voice: elevenLabsVoiceFor(input.voice, ownModel(input.model), ctx) };
}
