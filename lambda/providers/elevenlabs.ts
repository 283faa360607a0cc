import type { Classification, UpstreamAnswer } from '../core/types';
import { AudioResult, CONTENT_TYPE, SpeechFormat, SpeechRequest } from '../core/media';
import { retryAfterMsFrom } from '../keys/retry-hints';
import { audioFrom } from './openai';
import { Operation, obj, safeCode } from './upstream';

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

/**
 * ElevenLabs: both 401 and 429 are ambiguous. 401 `quota_exceeded` is an exhausted account (not a
 * bad key); 429 `system_busy` is the platform's load (back off, any key), while
 * `too_many_concurrent_requests` is this account's concurrency cap (rotate).
 */
export function classifyElevenLabs(a: UpstreamAnswer, now: number): Classification {
  const detail = obj(obj(a.body)?.detail);
  const code = safeCode(detail?.status) ?? safeCode(detail?.code);
  const { status } = a;
  if (status >= 200 && status < 300) return { outcome: 'ok' };
  if (status === 401) {
    return code === 'quota_exceeded' ? { outcome: 'quota_exhausted', code } : { outcome: 'invalid_key', code: code ?? 'invalid_api_key' };
  }
  if (status === 429) {
    if (code === 'system_busy') return { outcome: 'overloaded', code, retryAfterMs: retryAfterMsFrom(a.headers, now) };
    return { outcome: 'rate_limited', code: code ?? 'too_many_concurrent_requests', retryAfterMs: retryAfterMsFrom(a.headers, now) };
  }
  if (status === 408 || status >= 500) return { outcome: 'overloaded', code };
  return { outcome: 'bad_request', code };
}

export function elevenLabsSpeech(baseUrl: string, req: SpeechRequest): Operation<AudioResult> {
  const outputFormat = ELEVENLABS_OUTPUT_FORMAT[req.response_format] ?? 'mp3_44100_128';
  const body = JSON.stringify({
    text: req.input,
    model_id: req.model,
    ...(req.speed !== undefined ? { voice_settings: { speed: req.speed } } : {}),
  });
  const url = `${baseUrl}/v1/text-to-speech/${encodeURIComponent(req.voice)}?output_format=${outputFormat}`;
  return {
    replaySafe: true,
    request: (key) => ({
      method: 'POST',
      url,
      headers: { 'xi-api-key': key.secret(), 'content-type': 'application/json', accept: 'audio/*' },
      body,
    }),
    classify: classifyElevenLabs,
    decode: (a) => audioFrom(a, CONTENT_TYPE[req.response_format]),
  };
}
