import { CONTENT_TYPE, InvalidRequest, KeyCredential, MediaStream, SpeechRequest, StreamedOperation } from '../../domain';
import { relayAudio } from '../http/relay';
import { range, tooLong } from '../rules';
import type { SpeechProvider } from '../types';
import { classifyOpenAI } from './classify';
import { adoptSpeech } from './mapping';

export const OPENAI_TTS_MODELS = ['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts', 'gpt-4o-mini-tts-2025-12-15'] as const;
export const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;
const OPENAI_INPUT_MAX = 4096;

export function auth(key: KeyCredential): Record<string, string> {
  return { authorization: `Bearer ${key.secret()}` };
}

function openaiSpeech(baseUrl: string, req: SpeechRequest): StreamedOperation<MediaStream> {
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
    // OpenAI sends speech in chunks as it is produced: relayed from the first one.
    relay: (a) => relayAudio(a, CONTENT_TYPE[req.response_format]),
  };
}

/** OpenAI text-to-speech: `/v1/audio/speech`. */
export const openaiTts: SpeechProvider<'openai-tts'> = {
  id: 'openai-tts',
  capability: 'speech',
  p95ObjectiveMs: 8_000,
  serves: (model) => (OPENAI_TTS_MODELS as readonly string[]).includes(model),
  validate(p) {
    const req: SpeechRequest = { model: p.model, input: p.input, voice: p.voice, response_format: p.response_format };
    if (p.input.length > OPENAI_INPUT_MAX) throw tooLong('input', OPENAI_INPUT_MAX);
    if (!(OPENAI_VOICES as readonly string[]).includes(p.voice)) {
      throw new InvalidRequest(`voice must be one of ${OPENAI_VOICES.join(', ')} for ${p.model}.`, 'voice');
    }
    if (p.speed !== undefined) req.speed = range('speed', p.speed, 0.25, 4);
    if (p.instructions !== undefined) {
      if (p.model === 'tts-1' || p.model === 'tts-1-hd') throw new InvalidRequest(`instructions are not supported by ${p.model}.`, 'instructions', 'unsupported_parameter');
      req.instructions = p.instructions;
    }
    return req;
  },
  adopt: (input, _target, ctx) => adoptSpeech(input, ctx, { models: OPENAI_TTS_MODELS, voices: OPENAI_VOICES }),
  operation: (urls, req) => openaiSpeech(urls.openai, req),
};
