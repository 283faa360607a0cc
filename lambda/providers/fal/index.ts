import { defineVendor } from '../types';
import { classifyFal } from './classify';
import { falProbe } from './probe';
import { falFlux } from './flux';
import { falStableAudio } from './stable-audio';

/** fal.ai: one key pool (`KEY_ID:KEY_SECRET`) for the synchronous FLUX images and the queued Stable Audio. */
export const fal = defineVendor({
  id: 'fal',
  keys: { plural: 'FAL_KEYS', singular: 'FAL_KEY', pair: 'KEY_ID:KEY_SECRET' },
  baseUrls: {
    fal: { variable: 'FAL_BASE_URL', default: 'https://fal.run', sandbox: 'fal' },
    falQueue: { variable: 'FAL_QUEUE_BASE_URL', default: 'https://queue.fal.run', sandbox: 'falQueue' },
    // The platform API (account, billing): only the key probe calls it.
    falPlatform: { variable: 'FAL_PLATFORM_BASE_URL', default: 'https://api.fal.ai/v1', sandbox: 'falPlatform' },
  },
  classify: classifyFal,
  probe: (urls) => falProbe(urls.falPlatform),
  providers: [falFlux, falStableAudio],
});
