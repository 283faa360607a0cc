import { Readable } from 'node:stream';
import { BufferedOperation, ImageDatum, ImageRequest, ImagesResult, InvalidRequest, MalformedAnswer, MediaStream } from '../../domain';
import { obj } from '../http/json';
import { tooLong } from '../rules';
import type { ImageProvider } from '../types';
import { classifyFal } from './classify';
import { adoptImage } from './mapping';

export const FAL_IMAGE_MODELS = ['fal-ai/flux/dev', 'fal-ai/flux/schnell'] as const;
const QUALITIES = ['standard', 'hd', 'auto'];

export const FAL_IMAGE_PRESETS = ['square_hd', 'square', 'portrait_4_3', 'portrait_16_9', 'landscape_4_3', 'landscape_16_9'] as const;
export type FalImageSize = (typeof FAL_IMAGE_PRESETS)[number] | { width: number; height: number };

/** OpenAI-style `WxH` sizes that match a fal preset exactly; any other valid `WxH` is sent as {width, height}. */
const PRESET_OF_SIZE: Record<string, FalImageSize> = {
  '1024x1024': 'square_hd',
  '512x512': 'square',
  '768x1024': 'portrait_4_3',
  '576x1024': 'portrait_16_9',
  '1024x768': 'landscape_4_3',
  '1024x576': 'landscape_16_9',
};

/** Limits of a custom fal image size (pixels per side). */
export const FAL_MIN_SIDE = 256;
export const FAL_MAX_SIDE = 2048;

/** `size` (OpenAI `WxH`, or a fal preset name) → fal `image_size`; undefined when out of range. */
export function falImageSize(size: string): FalImageSize | undefined {
  if ((FAL_IMAGE_PRESETS as readonly string[]).includes(size)) return size as FalImageSize;
  if (Object.hasOwn(PRESET_OF_SIZE, size)) return PRESET_OF_SIZE[size];
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(size);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  const ok = (v: number) => v >= FAL_MIN_SIDE && v <= FAL_MAX_SIDE && v % 8 === 0;
  return ok(width) && ok(height) ? { width, height } : undefined;
}

export function falAuth(secret: string): Record<string, string> {
  return { authorization: `Key ${secret}`, accept: 'application/json' };
}

function falFluxImages(baseUrl: string, req: ImageRequest): BufferedOperation<MediaStream> {
  const wantB64 = req.response_format === 'b64_json';
  const body = JSON.stringify({
    prompt: req.prompt,
    num_images: req.n,
    ...(req.size !== undefined ? { image_size: falImageSize(req.size) } : {}),
    // sync_mode returns the images inline as data URIs, which is what b64_json asks for.
    ...(wantB64 ? { sync_mode: true } : {}),
  });
  return {
    replaySafe: true,
    request: (key) => ({
      method: 'POST',
      url: `${baseUrl}/${req.model}`,
      headers: { ...falAuth(key.secret()), 'content-type': 'application/json' },
      body,
    }),
    classify: classifyFal,
    decode: (a) => {
      const images = obj(a.body)?.images;
      if (!Array.isArray(images) || images.length === 0) throw new MalformedAnswer('fal: no images[]');
      const data: ImageDatum[] = images.map((img) => {
        const url = obj(img)?.url;
        if (typeof url !== 'string' || url === '') throw new MalformedAnswer('fal: image without url');
        const inline = /^data:[^;,]+;base64,(.*)$/s.exec(url);
        if (inline) return wantB64 ? { b64_json: inline[1] } : { url };
        return { url };
      });
      // fal's shape is not OpenAI's: read whole (bounded by the transport's cap), reshaped, then sent.
      const result: ImagesResult = { created: Math.floor(Date.now() / 1000), data };
      const json = Buffer.from(JSON.stringify(result));
      return { contentType: 'application/json', body: Readable.from([json]) };
    },
  };
}

/** fal FLUX text-to-image, OpenAI-shaped: up to 4 images per call; quality has no fal equivalent. */
export const falFlux: ImageProvider<'fal-flux'> = {
  id: 'fal-flux',
  capability: 'image',
  p95ObjectiveMs: 20_000,
  serves: (model) => (FAL_IMAGE_MODELS as readonly string[]).includes(model),
  validate(p) {
    if (p.prompt.length > 10000) throw tooLong('prompt', 10000);
    const n = p.n ?? 1;
    if (n < 1 || n > 4) throw new InvalidRequest(`n must be between 1 and 4 for ${p.model}.`, 'n');
    if (p.size !== undefined && falImageSize(p.size) === undefined) {
      throw new InvalidRequest(`size ${JSON.stringify(p.size)} is not supported for ${p.model}; use WIDTHxHEIGHT with sides 256–2048 in multiples of 8, or a fal preset.`, 'size');
    }
    if (p.quality !== undefined && !QUALITIES.includes(p.quality)) throw new InvalidRequest(`quality must be one of ${QUALITIES.join(', ')} for ${p.model}.`, 'quality');
    if (p.style !== undefined) throw new InvalidRequest(`style is not supported for ${p.model}.`, 'style');
    const req: ImageRequest = { model: p.model, prompt: p.prompt, n, response_format: p.response_format };
    if (p.size !== undefined && p.size !== 'auto') req.size = p.size;
    return req;
  },
  adopt: (input) => adoptImage(input),
  operation: (urls, req) => falFluxImages(urls.fal, req),
};
