import { defineVendor } from '../types';
import { classifyKling } from './classify';
import { klingProbe } from './probe';
import { klingVideoProvider } from './video';

/** Kling: one key pool (`ACCESS_KEY:SECRET_KEY`, signed into short-lived JWTs) for video. */
export const kling = defineVendor({
  id: 'kling',
  keys: { plural: 'KLING_API_KEYS', singular: 'KLING_API_KEY', pair: 'ACCESS_KEY:SECRET_KEY' },
  baseUrls: { kling: { variable: 'KLING_BASE_URL', default: 'https://api-singapore.klingai.com', sandbox: 'kling' } },
  classify: classifyKling,
  probe: (urls, clock) => klingProbe(urls.kling, clock),
  providers: [klingVideoProvider],
});
