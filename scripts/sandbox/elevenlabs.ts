/**
 * ElevenLabs imitation (base `<root>/elevenlabs`, like https://api.elevenlabs.io).
 *   POST /v1/text-to-speech/{voice_id}[?output_format=&optimize_streaming_latency=]        -> audio bytes (chunked)
 *   POST /v1/text-to-speech/{voice_id}/stream[?output_format=&optimize_streaming_latency=] -> same
 *   GET  /v1/user/subscription                                                              -> plan and character usage (probe)
 * Auth `xi-api-key`; errors `{"detail":{"status","message"}}` or FastAPI `{"detail":[{loc,msg,type}]}`.
 * A voice id is "found" when it has the real shape (20 ASCII letters/digits); anything else is
 * 400 voice_not_found (the sandbox's pick for the UNCONFIRMED 400-vs-404).
 */
import { aLaw, bufferSource, MP3_TONE, muLaw, OGG_OPUS_TONE, pcm16, sizedAudio, speechSeconds, wav, type AudioCodec, type ByteSource } from './audio';
import { retryHeaders } from './limits';
import { echoText, headerSafe, type ErrorFault, type Exchange, type Route, type SandboxCore, type VendorModule } from './server';
import { isRecord, randomAlnum } from './util';

export const ELEVENLABS_KEY_PATTERN = /^[A-Za-z0-9_]{20,100}$/;
export const VOICE_ID_PATTERN = /^[A-Za-z0-9]{20}$/;

export const ELEVEN_MODEL_LIMITS: Record<string, number> = {
  eleven_v3: 3000,
  eleven_flash_v2_5: 40000,
  eleven_turbo_v2_5: 40000,
  eleven_flash_v2: 30000,
  eleven_turbo_v2: 30000,
  eleven_multilingual_v2: 10000,
  eleven_multilingual_v1: 10000,
  eleven_monolingual_v1: 10000,
};

const OUTPUT_FORMATS = [
  'mp3_22050_32',
  'mp3_24000_48',
  ...[32, 64, 96, 128, 192].map((b) => `mp3_44100_${b}`),
  ...[8000, 16000, 22050, 24000, 32000, 44100, 48000].map((r) => `pcm_${r}`),
  'ulaw_8000',
  'alaw_8000',
  ...[32, 64, 96, 128, 192].map((b) => `opus_48000_${b}`),
  ...[8000, 16000, 22050, 24000, 32000, 44100, 48000].map((r) => `wav_${r}`),
];

export function elevenAudio(format: string): { body: Buffer; contentType: string } {
  const [codec = 'mp3', rateText = '44100'] = format.split('_');
  const sampleRate = Number(rateText);
  switch (codec) {
    case 'pcm':
      return { body: pcm16({ sampleRate }), contentType: 'audio/pcm' };
    case 'wav':
      return { body: wav({ sampleRate }), contentType: 'audio/wav' };
    case 'ulaw':
      return { body: muLaw(pcm16({ sampleRate: 8000 })), contentType: 'audio/basic' };
    case 'alaw':
      return { body: aLaw(pcm16({ sampleRate: 8000 })), contentType: 'audio/x-alaw-basic' };
    case 'opus':
      return { body: OGG_OPUS_TONE, contentType: 'audio/ogg' };
    default:
      return { body: MP3_TONE, contentType: 'audio/mpeg' };
  }
}

/** Bytes per second of audio for an output_format: mp3/opus from the bitrate, pcm/wav 16-bit mono at the rate, G.711 8 kB/s. */
export function elevenByteRate(format: string): number {
  const [codec = 'mp3', rate = '44100', bitrate = '128'] = format.split('_');
  if (codec === 'pcm' || codec === 'wav') return Number(rate) * 2;
  if (codec === 'ulaw' || codec === 'alaw') return 8000;
  return (Number(bitrate) * 1000) / 8;
}

/** The TTS body: up to 1 s of speech the 1 s tone of earlier versions, else sized by the text. */
function ttsSource(format: string, text: string, speed: number, seed: string, bytes: number | undefined): ByteSource {
  const seconds = speechSeconds(text.length, speed);
  if (bytes === undefined && seconds <= 1) return bufferSource(elevenAudio(format).body);
  const [codec = 'mp3', rateText = '44100'] = format.split('_');
  const rate = elevenByteRate(format);
  const raw = codec === 'pcm' || codec === 'wav';
  const size = bytes ?? (raw ? 2 * Math.round((seconds * rate) / 2) : Math.round(seconds * rate)) + (codec === 'wav' ? 44 : 0);
  return sizedAudio(codec as AudioCodec, Number(rateText), size, seed);
}

/** Default character_limit of a sandbox key (a Creator-like plan). */
export const DEFAULT_CHARACTER_LIMIT = 100_000;

function detail(status: string, message: string): unknown {
  return { detail: { status, message } };
}

function validation(loc: (string | number)[], msg: string, type: string): unknown {
  return { detail: [{ loc, msg, type }] };
}

export function createElevenLabs(core: SandboxCore): VendorModule {
  const invalidKey = (ex: Exchange, key: string): void => {
    if (key === '') {
      ex.sendJson(401, detail('needs_authorization', 'Neither authorization header nor xi-api-key received, please provide one.'));
      return;
    }
    ex.sendJson(401, detail('invalid_api_key', 'Invalid API key'));
  };

  const tooMany = (ex: Exchange, key: string, retryAfterMs: number | null): void => {
    const max = core.limitFor('elevenlabs', key)?.calls ?? 1;
    const headers: Record<string, string> = {
      'current-concurrent-requests': String(max),
      'maximum-concurrent-requests': String(max),
    };
    if (retryAfterMs !== null) Object.assign(headers, retryHeaders(core.hintFor('elevenlabs', key), retryAfterMs, core.now(), false));
    ex.sendJson(
      429,
      detail(
        'too_many_concurrent_requests',
        `Too many concurrent requests. Your current subscription is associated with a maximum of ${max} concurrent requests, please upgrade your subscription or wait for one of your requests to finish.`,
      ),
      { headers },
    );
  };

  const concurrencyAnswer = (ex: Exchange, key: string, current: number, max: number): void => {
    const headers: Record<string, string> = { 'current-concurrent-requests': String(current), 'maximum-concurrent-requests': String(max) };
    const hint = core.hintFor('elevenlabs', key);
    if (hint !== 'none') Object.assign(headers, retryHeaders(hint, 1000, core.now(), false));
    ex.sendJson(
      429,
      detail(
        'too_many_concurrent_requests',
        `Too many concurrent requests. Your current subscription is associated with a maximum of ${max} concurrent requests, please upgrade your subscription or wait for one of your requests to finish.`,
      ),
      { headers },
    );
  };

  const tts: Route['handle'] = (ex, key) => {
    const voiceId = ex.params.voice_id ?? '';
    const format = ex.query.get('output_format') ?? 'mp3_44100_128';
    if (!OUTPUT_FORMATS.includes(format)) {
      return ex.sendJson(422, validation(['query', 'output_format'], `value is not a valid enumeration member; permitted: ${OUTPUT_FORMATS.map((f) => `'${f}'`).join(', ')}`, 'type_error.enum'));
    }
    const osl = ex.query.get('optimize_streaming_latency');
    if (osl !== null) {
      if (!/^-?\d+$/.test(osl)) return ex.sendJson(422, validation(['query', 'optimize_streaming_latency'], 'value is not a valid integer', 'type_error.integer'));
      const n = Number(osl);
      if (n < 0 || n > 4) {
        return ex.sendJson(
          422,
          validation(['query', 'optimize_streaming_latency'], n < 0 ? 'ensure this value is greater than or equal to 0' : 'ensure this value is less than or equal to 4', n < 0 ? 'value_error.number.not_ge' : 'value_error.number.not_le'),
        );
      }
    }
    const parsed = ex.json();
    if (!parsed.ok) return ex.sendJson(422, validation(['body', 0], `Expecting value: ${parsed.error}`, 'value_error.jsondecode'));
    if (!isRecord(parsed.value)) return ex.sendJson(422, validation(['body'], 'value is not a valid dict', 'type_error.dict'));
    const b = parsed.value;
    if (b.text === undefined || b.text === null) return ex.sendJson(422, validation(['body', 'text'], 'field required', 'value_error.missing'));
    if (typeof b.text !== 'string') return ex.sendJson(422, validation(['body', 'text'], 'str type expected', 'type_error.str'));
    const text = b.text;
    const modelId = b.model_id ?? 'eleven_multilingual_v2';
    if (typeof modelId !== 'string') return ex.sendJson(422, validation(['body', 'model_id'], 'str type expected', 'type_error.str'));
    const limit = ELEVEN_MODEL_LIMITS[modelId];
    if (limit === undefined) return ex.sendJson(400, detail('model_not_found', `A model with model ID ${modelId} was not found.`));
    if (b.voice_settings !== undefined && b.voice_settings !== null) {
      if (!isRecord(b.voice_settings)) return ex.sendJson(422, validation(['body', 'voice_settings'], 'value is not a valid dict', 'type_error.dict'));
      const ranges: Record<string, [number, number]> = { stability: [0, 1], similarity_boost: [0, 1], style: [0, 1], speed: [0.7, 1.2] };
      for (const [name, [lo, hi]] of Object.entries(ranges)) {
        const v = b.voice_settings[name];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'number') return ex.sendJson(422, validation(['body', 'voice_settings', name], 'value is not a valid float', 'type_error.float'));
        if (v < lo || v > hi) {
          return ex.sendJson(
            422,
            validation(['body', 'voice_settings', name], v < lo ? `ensure this value is greater than or equal to ${lo}` : `ensure this value is less than or equal to ${hi}`, v < lo ? 'value_error.number.not_ge' : 'value_error.number.not_le'),
          );
        }
      }
    }
    if (!VOICE_ID_PATTERN.test(voiceId)) return ex.sendJson(400, detail('voice_not_found', `A voice with the voice_id ${voiceId} was not found.`));
    if (text.length > limit) {
      return ex.sendJson(
        400,
        detail('max_character_limit_exceeded', `You are sending ${text.length} characters in a single request, but the maximum is ${limit} characters for model ${modelId}. Please split your text into smaller chunks.`),
      );
    }
    const rule = core.ruleFor('elevenlabs', key);
    const used = core.charactersUsed.get(key) ?? 0;
    const characterLimit = rule.account?.characterLimit;
    if (characterLimit !== undefined && used + text.length > characterLimit) {
      const left = Math.max(0, characterLimit - used);
      return ex.sendJson(
        401,
        detail('quota_exceeded', `This request exceeds your quota of ${characterLimit}. You have ${left} credits remaining, while ${text.length} credits are required for this request.`),
      );
    }
    core.charactersUsed.set(key, used + text.length);
    const speed = isRecord(b.voice_settings) && typeof b.voice_settings.speed === 'number' ? b.voice_settings.speed : 1;
    const body = ttsSource(format, text, speed, `${voiceId}|${modelId}|${speed}|${text}`, ex.fault?.kind === 'body_size' ? ex.fault.bytes : undefined);
    const max = rule.concurrency ?? ex.limit?.limit?.calls ?? 15;
    ex.stream(200, body, elevenAudio(format).contentType, {
      byteRate: elevenByteRate(format),
      headers: {
        'character-cost': String(text.length),
        'current-concurrent-requests': String(Math.max(1, ex.inflight)),
        'maximum-concurrent-requests': String(max),
        'x-region': 'sandbox',
      },
    });
  };

  const subscription: Route['handle'] = (ex, key) => {
    const rule = core.ruleFor('elevenlabs', key);
    const limit = rule.account?.characterLimit ?? DEFAULT_CHARACTER_LIMIT;
    const count = rule.state === 'quota' ? limit : Math.min(limit, core.charactersUsed.get(key) ?? 0);
    const now = new Date(core.now());
    const reset = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) / 1000;
    ex.sendJson(200, {
      tier: rule.account?.tier ?? 'creator',
      character_count: count,
      character_limit: limit,
      can_extend_character_limit: true,
      allowed_to_extend_character_limit: true,
      next_character_count_reset_unix: reset,
      voice_limit: 30,
      max_voice_add_edits: 95,
      voice_add_edit_counter: 0,
      professional_voice_limit: 1,
      can_extend_voice_limit: false,
      can_use_instant_voice_cloning: true,
      can_use_professional_voice_cloning: true,
      currency: 'usd',
      status: 'active',
      billing_period: 'monthly_period',
      character_refresh_period: 'monthly_period',
    });
  };

  return {
    vendor: 'elevenlabs',
    prefix: '/elevenlabs',
    requestIdHeader: 'request-id',
    newRequestId: () => randomAlnum(20),

    authenticate(ex) {
      const key = (ex.header('xi-api-key') ?? '').trim();
      const valid = key !== '' && (core.isKnown('elevenlabs', key) || (core.acceptUnknownKeys && ELEVENLABS_KEY_PATTERN.test(key)));
      if (valid) return { ok: true, key };
      return { ok: false, key, reply: (e) => invalidKey(e, key) };
    },

    match(method, path): Route | null {
      const m = /^\/v1\/text-to-speech\/([^/]+)(\/stream)?$/.exec(path);
      if (method === 'POST' && m) return { kind: 'audio', limited: true, params: { voice_id: decodeURIComponent(m[1] ?? '') }, handle: tts, scope: 'text_to_speech', sizable: true };
      if (method === 'GET' && path === '/v1/user/subscription') return { kind: 'json', limited: false, params: {}, handle: subscription, scope: 'user_read', probe: true };
      return null;
    },

    notFound(ex) {
      ex.sendJson(404, { detail: 'Not Found' });
    },

    invalidKey,

    quota(ex) {
      ex.sendJson(
        401,
        detail('quota_exceeded', 'This request exceeds your quota of 10000. You have 0 credits remaining, while 91 credits are required for this request.'),
      );
    },

    rateLimited(ex, key, verdict) {
      tooMany(ex, key, verdict.resetMs);
    },

    concurrencyLimited: concurrencyAnswer,

    missingScope(ex, _key, scope, status) {
      ex.sendJson(status ?? 401, detail('missing_permissions', `The API key you used is missing the permission ${scope} to execute this operation.`));
    },

    echo(ex, fault, key) {
      const t = echoText(fault, { key });
      ex.sendJson(fault.status ?? 500, { detail: { status: t, code: t, type: t, message: t, request_id: t } }, { headers: { 'request-id': headerSafe(t) } });
    },

    fault(ex, fault: ErrorFault, key) {
      if (fault.kind === 'concurrency' || (fault.kind === 'status' && fault.status === 429)) return tooMany(ex, key, 1000);
      if (fault.kind === 'system_busy') {
        return ex.sendJson(429, detail('system_busy', 'The system is experiencing heavy traffic, please try again. Higher subscriptions have higher priority.'));
      }
      const s = fault.status;
      if (s === 401) return invalidKey(ex, key);
      if (s >= 500) return ex.sendJson(s, detail('internal_server_error', 'An internal server error occurred. Please retry later.'));
      if (s === 403) return ex.sendJson(403, detail('only_for_creator+', 'This feature is only available for Creator tier and above.'));
      ex.sendJson(s, detail('invalid_request', 'The request could not be processed.'));
    },
  };
}
