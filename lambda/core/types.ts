/**
 * Vocabulary shared by the key pool, the rotation loop, the provider adapters and the HTTP layer.
 * Vendors own key pools; providers (one vendor operation each) share their vendor's pool.
 */
export const VENDORS = ['openai', 'elevenlabs', 'fal', 'kling'] as const;
export type Vendor = (typeof VENDORS)[number];

export const PROVIDERS = [
  'openai-tts',
  'elevenlabs-tts',
  'openai-image',
  'fal-flux',
  'fal-stable-audio',
  'kling-video',
] as const;
export type ProviderId = (typeof PROVIDERS)[number];

export const VENDOR_OF: Record<ProviderId, Vendor> = {
  'openai-tts': 'openai',
  'openai-image': 'openai',
  'elevenlabs-tts': 'elevenlabs',
  'fal-flux': 'fal',
  'fal-stable-audio': 'fal',
  'kling-video': 'kling',
};

/** What one upstream answer means for the key that was used (providers.md §5). */
export type Outcome =
  | 'ok'
  | 'rate_limited'
  | 'quota_exhausted'
  | 'invalid_key'
  | 'overloaded'
  | 'bad_request';

export interface Classification {
  outcome: Outcome;
  /** Wait the provider asked for (Retry-After and friends), when it said one. */
  retryAfterMs?: number;
  /**
   * On a success: the key's request budget is now spent (`x-ratelimit-remaining-requests: 0`) and
   * refills in this long. Resting the key now saves the 429 the next call would waste.
   */
  budgetSpentForMs?: number;
  /**
   * A short machine code safe to show a client (e.g. `voice_not_found`). Never free text from the
   * provider: upstream messages can echo key fragments.
   */
  code?: string;
}

/** Lower-cased response headers, as read off the wire. */
export type HeaderMap = Record<string, string>;

/** A raw upstream answer, handed to a vendor's pure classifier. */
export interface UpstreamAnswer {
  status: number;
  headers: HeaderMap;
  /** The body parsed as JSON when it was JSON, else its text (possibly empty). */
  body: unknown;
}

export type Clock = () => number;
