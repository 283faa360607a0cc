import type { Classification, UpstreamAnswer } from '../core/types';
import type { ImageRequest, ImagesResult, ImageDatum } from '../core/media';
import { retryAfterMsFrom } from '../keys/retry-hints';
import { MalformedAnswer, Operation, obj, safeCode } from './upstream';

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

/**
 * fal.ai: 403 "User is locked. Reason: Exhausted balance" / "Admin lock" is the account, not a
 * request problem: disable. 429 on the sync path is the account's concurrency: rotate. Runner and
 * timeout errors (`error_type`) are the platform's: back off — except a 504 caused by the caller's
 * own `x-fal-request-timeout`.
 */
export function classifyFal(a: UpstreamAnswer, now: number): Classification {
  const body = obj(a.body);
  const detail = body?.detail;
  const code = safeCode(body?.error_type) ?? safeCode(a.headers['x-fal-error-type']);
  const { status } = a;
  if (status >= 200 && status < 300) return { outcome: 'ok' };
  if (status === 401) return { outcome: 'invalid_key', code: 'invalid_key' };
  if (status === 403) {
    if (typeof detail === 'string' && /exhausted balance|user is locked|admin lock/i.test(detail)) {
      return { outcome: 'quota_exhausted', code: 'account_locked' };
    }
    return { outcome: 'bad_request', code: code ?? 'forbidden' };
  }
  if (status === 429) return { outcome: 'rate_limited', code: 'concurrency_limit', retryAfterMs: retryAfterMsFrom(a.headers, now) };
  if (status === 504 && a.headers['x-fal-request-timeout-type'] === 'user') return { outcome: 'bad_request', code: 'request_timeout' };
  if (status === 408 || status === 499 || status >= 500) return { outcome: 'overloaded', code };
  return { outcome: 'bad_request', code: code ?? (Array.isArray(detail) ? 'validation_error' : undefined) };
}

export function falAuth(secret: string): Record<string, string> {
  return { authorization: `Key ${secret}`, accept: 'application/json' };
}

export function falFluxImages(baseUrl: string, req: ImageRequest): Operation<ImagesResult> {
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
      return { created: Math.floor(Date.now() / 1000), data };
    },
  };
}
