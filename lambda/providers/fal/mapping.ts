import type { ImageInput } from '../../domain';

/**
 * Requests written for another provider's model, taken over by fal FLUX (a fallback). Sizes map
 * as for any request (WxH → preset or {width, height}); n above 4 and `style` are `validate`'s to refuse.
 */

/** GPT image qualities (low/medium/high) → fal's (standard/hd). */
const FAL_QUALITY: Record<string, string> = { low: 'standard', medium: 'standard', high: 'hd' };

export function adoptImage(input: ImageInput): ImageInput {
  const out: ImageInput = { ...input };
  if (input.quality !== undefined && Object.hasOwn(FAL_QUALITY, input.quality)) out.quality = FAL_QUALITY[input.quality];
  return out;
}
