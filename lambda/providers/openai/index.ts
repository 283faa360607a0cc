import { defineVendor } from '../types';
import { classifyOpenAI } from './classify';
import { openaiProbe } from './probe';
import { openaiImage } from './images';
import { openaiTts } from './speech';

/** OpenAI: one key pool (`sk-…`) for speech and images. */
export const openai = defineVendor({
  id: 'openai',
  keys: { plural: 'OPENAI_API_KEYS', singular: 'OPENAI_API_KEY' },
  baseUrls: { openai: { variable: 'OPENAI_BASE_URL', default: 'https://api.openai.com/v1', sandbox: 'openai' } },
  classify: classifyOpenAI,
  probe: (urls) => openaiProbe(urls.openai),
  providers: [openaiTts, openaiImage],
});
