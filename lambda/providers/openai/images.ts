import { Readable } from 'node:stream';
import { BufferedOperation, ImageRequest, InvalidRequest, MalformedAnswer, MediaStream, RawAnswer } from '../../domain';
import { obj } from '../http/json';
import { tooLong } from '../rules';
import type { ImageProvider } from '../types';
import { classifyOpenAI } from './classify';
import { adoptImage } from './mapping';
import { auth } from './speech';

export const OPENAI_IMAGE_MODELS = ['dall-e-2', 'dall-e-3', 'gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5'] as const;

interface ImageRules {
  promptMax: number;
  nMax: number;
  sizes: readonly string[];
  qualities: readonly string[];
  styles?: readonly string[];
}

const RULES: Record<'dall-e-2' | 'dall-e-3' | 'gpt-image', ImageRules> = {
  'dall-e-2': { promptMax: 1000, nMax: 10, sizes: ['256x256', '512x512', '1024x1024'], qualities: ['standard', 'auto'] },
  'dall-e-3': { promptMax: 4000, nMax: 1, sizes: ['1024x1024', '1792x1024', '1024x1792'], qualities: ['standard', 'hd', 'auto'], styles: ['vivid', 'natural'] },
  'gpt-image': { promptMax: 32000, nMax: 10, sizes: ['1024x1024', '1536x1024', '1024x1536', 'auto'], qualities: ['low', 'medium', 'high', 'auto'] },
};

const rulesOf = (model: string): ImageRules => (model.startsWith('gpt-image') ? RULES['gpt-image'] : model === 'dall-e-3' ? RULES['dall-e-3'] : RULES['dall-e-2']);

function openaiImages(baseUrl: string, req: ImageRequest): BufferedOperation<MediaStream> {
  const gptImage = req.model.startsWith('gpt-image');
  const body = JSON.stringify({
    model: req.model,
    prompt: req.prompt,
    n: req.n,
    ...(req.size !== undefined ? { size: req.size } : {}),
    ...(req.quality !== undefined ? { quality: req.quality } : {}),
    ...(req.style !== undefined ? { style: req.style } : {}),
    // GPT image models always answer b64_json and reject the parameter.
    ...(gptImage ? {} : { response_format: req.response_format }),
  });
  return {
    replaySafe: true,
    request: (key) => ({
      method: 'POST',
      url: `${baseUrl}/images/generations`,
      headers: { ...auth(key), 'content-type': 'application/json' },
      body,
    }),
    classify: classifyOpenAI,
    decode: checkedImages,
  };
}

/**
 * OpenAI's answer is already the OpenAI shape, so its bytes go to the client as they came —
 * byte-identical, and streamed out (gpt-image-1 `b64_json` runs to many MB: no 6 MB limit). It is
 * read whole first (bounded by the transport's cap) only to check it: an image answer arrives all at
 * once after the generation anyway, and a malformed one is never passed on but retried.
 */
function checkedImages(a: RawAnswer): MediaStream {
  const data = obj(a.body)?.data;
  if (!Array.isArray(data) || data.length === 0) throw new MalformedAnswer('images: no data[]');
  for (const d of data) {
    const item = obj(d);
    if (typeof item?.url !== 'string' && typeof item?.b64_json !== 'string') throw new MalformedAnswer('images: item without url or b64_json');
  }
  return { contentType: 'application/json', body: Readable.from([a.raw]) };
}

/** OpenAI images: `/v1/images/generations` (DALL·E and GPT image models). */
export const openaiImage: ImageProvider<'openai-image'> = {
  id: 'openai-image',
  capability: 'image',
  p95ObjectiveMs: 30_000,
  serves: (model) => (OPENAI_IMAGE_MODELS as readonly string[]).includes(model),
  validate(p) {
    const rules = rulesOf(p.model);
    if (p.prompt.length > rules.promptMax) throw tooLong('prompt', rules.promptMax);
    const n = p.n ?? 1;
    if (n < 1 || n > rules.nMax) throw new InvalidRequest(`n must be between 1 and ${rules.nMax} for ${p.model}.`, 'n');
    if (p.size !== undefined && !rules.sizes.includes(p.size)) {
      throw new InvalidRequest(`size ${JSON.stringify(p.size)} is not supported for ${p.model}; use ${rules.sizes.join(', ')}.`, 'size');
    }
    if (p.quality !== undefined && !rules.qualities.includes(p.quality)) {
      throw new InvalidRequest(`quality must be one of ${rules.qualities.join(', ')} for ${p.model}.`, 'quality');
    }
    if (p.style !== undefined && !rules.styles?.includes(p.style)) {
      throw new InvalidRequest(rules.styles ? `style must be one of ${rules.styles.join(', ')}.` : `style is not supported for ${p.model}.`, 'style');
    }
    const req: ImageRequest = { model: p.model, prompt: p.prompt, n, response_format: p.response_format };
    if (p.size !== undefined && p.size !== 'auto') req.size = p.size;
    if (p.quality !== undefined) req.quality = p.quality;
    if (p.style !== undefined) req.style = p.style;
    return req;
  },
  adopt: (input, target) => adoptImage(input, target),
  operation: (urls, req) => openaiImages(urls.openai, req),
};
