import { CONTENT_TYPE, InvalidRequest, MediaStream, SpeechFormat, SpeechRequest, StreamedOperation } from '../../domain';
import { relayAudio } from '../http/relay';
import { range, tooLong } from '../rules';
import type { SpeechProvider } from '../types';
import { classifyElevenLabs } from './classify';
import { adoptSpeech } from './mapping';

const ELEVENLABS_MODEL = /^eleven_[a-z0-9_]{1,60}$/;
const ELEVENLABS_VOICE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** OpenAI `response_format` → ElevenLabs `output_format` (codec_rate_bitrate). aac and flac have no ElevenLabs equivalent. */
export const ELEVENLABS_OUTPUT_FORMAT: Partial<Record<SpeechFormat, string>> = {
  mp3: 'mp3_44100_128',
  opus: 'opus_48000_64',
  // OpenAI's pcm is 24 kHz 16-bit little-endian: the same as ElevenLabs pcm_24000.
  pcm: 'pcm_24000',
  wav: 'wav_24000',
};

/** Characters per request by model family (ElevenLabs models page). */
export function elevenLabsMaxChars(model: string): number {
  if (model.startsWith('eleven_v3')) return 3000;
  if (/^eleven_(flash|turbo)_v2_5/.test(model)) return 40000;
  if (/^eleven_(flash|turbo)_v2/.test(model)) return 30000;
  return 10000;
}

function elevenLabsSpeech(baseUrl: string, req: SpeechRequest): StreamedOperation<MediaStream> {
  const outputFormat = ELEVENLABS_OUTPUT_FORMAT[req.response_format] ?? 'mp3_44100_128';
  const body = JSON.stringify({
    text: req.input,
    model_id: req.model,
    ...(req.speed !== undefined ? { voice_settings: { speed: req.speed } } : {}),
  });
  // The streaming endpoint: same body and output_format, audio sent as it is produced.
  const url = `${baseUrl}/v1/text-to-speech/${encodeURIComponent(req.voice)}/stream?output_format=${outputFormat}`;
  return {
    replaySafe: true,
    request: (key) => ({
      method: 'POST',
      url,
      headers: { 'xi-api-key': key.secret(), 'content-type': 'application/json', accept: 'audio/*' },
      body,
    }),
    classify: classifyElevenLabs,
    relay: (a) => relayAudio(a, CONTENT_TYPE[req.response_format]),
  };
}

/** ElevenLabs text-to-speech, OpenAI-shaped: `voice` is an ElevenLabs voice id. */
export const elevenlabsTts: SpeechProvider<'elevenlabs-tts'> = {
  id: 'elevenlabs-tts',
  capability: 'speech',
  p95ObjectiveMs: 6_000,
  serves: (model) => ELEVENLABS_MODEL.test(model),
  validate(p) {
    const req: SpeechRequest = { model: p.model, input: p.input, voice: p.voice, response_format: p.response_format };
    const max = elevenLabsMaxChars(p.model);
    if (p.input.length > max) throw tooLong('input', max);
    if (!ELEVENLABS_VOICE_ID.test(p.voice)) throw new InvalidRequest('voice must be an ElevenLabs voice id.', 'voice');
    if (!Object.hasOwn(ELEVENLABS_OUTPUT_FORMAT, p.response_format)) {
      throw new InvalidRequest(`response_format ${p.response_format} is not available for ElevenLabs models; use mp3, opus, wav or pcm.`, 'response_format', 'unsupported_value');
    }
    // ElevenLabs voice_settings.speed accepts 0.7–1.2.
    if (p.speed !== undefined) req.speed = range('speed', p.speed, 0.7, 1.2);
    if (p.instructions !== undefined) throw new InvalidRequest('instructions are not supported by ElevenLabs models.', 'instructions', 'unsupported_parameter');
    return req;
  },
  adopt: (input, _target, ctx) => adoptSpeech(input, ctx, (m) => ELEVENLABS_MODEL.test(m)),
  operation: (urls, req) => elevenLabsSpeech(urls.elevenlabs, req),
};
