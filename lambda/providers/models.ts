import type { ProviderId } from '../core/types';

/** Which provider serves a model, per route (SPEC § Providers). */
export const OPENAI_TTS_MODELS = ['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts', 'gpt-4o-mini-tts-2025-12-15'] as const;
export const OPENAI_IMAGE_MODELS = ['dall-e-2', 'dall-e-3', 'gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5'] as const;
export const FAL_IMAGE_MODELS = ['fal-ai/flux/dev', 'fal-ai/flux/schnell'] as const;
export const KLING_VIDEO_MODELS = ['kling-v1', 'kling-v1-6', 'kling-v2-master', 'kling-v2-1-master'] as const;
export const FAL_AUDIO_MODELS = ['fal-ai/stable-audio'] as const;

const ELEVENLABS_MODEL = /^eleven_[a-z0-9_]{1,60}$/;

export function speechProviderFor(model: string): ProviderId | undefined {
  if ((OPENAI_TTS_MODELS as readonly string[]).includes(model)) return 'openai-tts';
  if (ELEVENLABS_MODEL.test(model)) return 'elevenlabs-tts';
  return undefined;
}

export function imageProviderFor(model: string): ProviderId | undefined {
  if ((OPENAI_IMAGE_MODELS as readonly string[]).includes(model)) return 'openai-image';
  if ((FAL_IMAGE_MODELS as readonly string[]).includes(model)) return 'fal-flux';
  return undefined;
}
