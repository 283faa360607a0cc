import { parseImages, parseSpeech } from '../../lambda/http/validation';
import { HttpError } from '../../lambda/http/errors';
import { falImageSize } from '../../lambda/providers/fal/flux';

function refusal(fn: () => unknown): { status: number; code: string; param: string | null; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return { status: e.status, code: e.code, param: e.param, message: e.message };
    throw e;
  }
  throw new Error('accepted');
}

const speech = (over: Record<string, unknown>) => ({ model: 'tts-1', input: 'hi', voice: 'alloy', ...over });
const image = (over: Record<string, unknown>) => ({ model: 'dall-e-3', prompt: 'a cat', ...over });

describe('speech validation', () => {
  test.each<[string, Record<string, unknown>, string, string | null]>([
    ['unknown model', speech({ model: 'tts-9' }), 'model_not_found', 'model'],
    ['missing input', { model: 'tts-1', voice: 'alloy' }, 'missing_required_parameter', 'input'],
    ['empty input', speech({ input: '' }), 'invalid_value', 'input'],
    ['input over 4096 for OpenAI', speech({ input: 'x'.repeat(4097) }), 'string_above_max_length', 'input'],
    ['input over 10000 for eleven_multilingual_v2', speech({ model: 'eleven_multilingual_v2', voice: 'JBFqnCBsd6RMkjVDRZzb', input: 'x'.repeat(10001) }), 'string_above_max_length', 'input'],
    ['speed below 0.25', speech({ speed: 0.2 }), 'invalid_value', 'speed'],
    ['speed above 4', speech({ speed: 4.5 }), 'invalid_value', 'speed'],
    ['speed as a string', speech({ speed: 'fast' }), 'invalid_value', 'speed'],
    ['ElevenLabs speed outside 0.7–1.2', speech({ model: 'eleven_turbo_v2_5', voice: 'abc', speed: 2 }), 'invalid_value', 'speed'],
    ['unknown voice for OpenAI', speech({ voice: 'robot' }), 'invalid_value', 'voice'],
    ['bad response_format', speech({ response_format: 'ogg' }), 'invalid_value', 'response_format'],
    ['aac not on ElevenLabs', speech({ model: 'eleven_flash_v2_5', voice: 'abc', response_format: 'aac' }), 'unsupported_value', 'response_format'],
    ['instructions on tts-1', speech({ instructions: 'calm' }), 'unsupported_parameter', 'instructions'],
    ['unknown field', speech({ temperature: 1 }), 'unknown_parameter', 'temperature'],
    ['sse streaming', speech({ stream_format: 'sse' }), 'unsupported_value', 'stream_format'],
    ['not an object', ['tts-1'] as unknown as Record<string, unknown>, 'invalid_json', null],
  ])('%s → 400 %s', (_name, body, code, param) => {
    const r = refusal(() => parseSpeech(body));
    expect(r).toMatchObject({ status: 400, code, param });
  });

  test.each<[Record<string, unknown>, string, Record<string, unknown>]>([
    [speech({}), 'openai-tts', { response_format: 'mp3' }],
    [speech({ model: 'gpt-4o-mini-tts', instructions: 'calm', speed: 1.5, response_format: 'wav' }), 'openai-tts', { instructions: 'calm', speed: 1.5 }],
    [speech({ model: 'eleven_multilingual_v2', voice: 'JBFqnCBsd6RMkjVDRZzb', response_format: 'pcm', speed: 1.1 }), 'elevenlabs-tts', { speed: 1.1 }],
  ])('accepted: %j', (body, provider, fields) => {
    const { provider: p, req } = parseSpeech(body);
    expect(p).toBe(provider);
    expect(req).toMatchObject(fields);
  });
});

describe('image validation', () => {
  test.each<[string, Record<string, unknown>, string, string | null]>([
    ['unknown model', image({ model: 'midjourney' }), 'model_not_found', 'model'],
    ['missing prompt', { model: 'dall-e-3' }, 'missing_required_parameter', 'prompt'],
    ['prompt too long for dall-e-2', image({ model: 'dall-e-2', prompt: 'x'.repeat(1001) }), 'string_above_max_length', 'prompt'],
    ['n > 1 on dall-e-3', image({ n: 2 }), 'invalid_value', 'n'],
    ['n = 0', image({ model: 'dall-e-2', n: 0 }), 'invalid_value', 'n'],
    ['n = 11', image({ model: 'dall-e-2', n: 11 }), 'invalid_value', 'n'],
    ['n fractional', image({ n: 1.5 }), 'invalid_value', 'n'],
    ['n > 4 on fal', image({ model: 'fal-ai/flux/dev', n: 5 }), 'invalid_value', 'n'],
    ['dall-e-3 size 512', image({ size: '512x512' }), 'invalid_value', 'size'],
    ['fal size too large', image({ model: 'fal-ai/flux/schnell', size: '4096x4096' }), 'invalid_value', 'size'],
    ['fal size nonsense', image({ model: 'fal-ai/flux/dev', size: 'huge' }), 'invalid_value', 'size'],
    ['bad quality', image({ quality: 'ultra' }), 'invalid_value', 'quality'],
    ['style on dall-e-2', image({ model: 'dall-e-2', style: 'vivid' }), 'invalid_value', 'style'],
    ['bad response_format', image({ response_format: 'png' }), 'invalid_value', 'response_format'],
  ])('%s → 400 %s', (_name, body, code, param) => {
    expect(refusal(() => parseImages(body))).toMatchObject({ status: 400, code, param });
  });

  test('model defaults to dall-e-2 like OpenAI', () => {
    expect(parseImages({ prompt: 'x' })).toMatchObject({ provider: 'openai-image', req: { model: 'dall-e-2', n: 1 } });
  });

  test('fal models route to fal-flux', () => {
    expect(parseImages(image({ model: 'fal-ai/flux/dev', n: 2, size: '1024x768' }))).toMatchObject({ provider: 'fal-flux', req: { n: 2, size: '1024x768' } });
  });
});

describe('size → fal image_size', () => {
  test.each([
    ['1024x1024', 'square_hd'],
    ['512x512', 'square'],
    ['1024x768', 'landscape_4_3'],
    ['768x1024', 'portrait_4_3'],
    ['1024x576', 'landscape_16_9'],
    ['576x1024', 'portrait_16_9'],
    ['landscape_16_9', 'landscape_16_9'],
    ['1792x1024', { width: 1792, height: 1024 }],
    ['1000x1000', { width: 1000, height: 1000 }],
    ['1001x1000', undefined],
    ['128x128', undefined],
    ['4096x1024', undefined],
  ])('%s → %j', (size, expected) => {
    expect(falImageSize(size)).toEqual(expected);
  });
});
