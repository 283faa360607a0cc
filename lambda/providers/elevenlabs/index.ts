import { defineVendor } from '../types';
import { classifyElevenLabs } from './classify';
import { elevenlabsProbe } from './probe';
import { elevenlabsTts } from './speech';

/** ElevenLabs: one key pool (`xi-api-key`) for speech. */
export const elevenlabs = defineVendor({
  id: 'elevenlabs',
  keys: { plural: 'ELEVENLABS_API_KEYS', singular: 'ELEVENLABS_API_KEY' },
  baseUrls: { elevenlabs: { variable: 'ELEVENLABS_BASE_URL', default: 'https://api.elevenlabs.io', sandbox: 'elevenlabs' } },
  classify: classifyElevenLabs,
  probe: (urls) => elevenlabsProbe(urls.elevenlabs),
  providers: [elevenlabsTts],
});
