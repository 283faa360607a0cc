import { KeyProbe, MalformedAnswer } from '../../domain';
import { obj } from '../http/json';
import { classifyOpenAI } from './classify';
import { auth } from './speech';

/**
 * OpenAI's probe: `GET /v1/models` — free, read-only, 200 for a valid key, 401 for an invalid one.
 * It shows no quota (a key out of credit still lists models), so an OpenAI probe can prove a key
 * valid but never that its quota is back. A restricted key without `api.model.read` answers 401
 * naming the missing scope: that key is not invalid, the probe just cannot see it.
 */
export function openaiProbe(baseUrl: string): KeyProbe {
  return {
    route: 'GET /v1/models',
    spacingMs: 0,
    request: (key) => ({ method: 'GET', url: `${baseUrl}/models`, headers: { ...auth(key), accept: 'application/json' } }),
    classify: classifyOpenAI,
    notVisible: (a) => a.status === 401 && /missing scopes?:/i.test(String(obj(obj(a.body)?.error)?.message ?? '')),
    read: (body) => {
      if (!Array.isArray(obj(body)?.data)) throw new MalformedAnswer('models: no data[]');
      return { exhausted: false };
    },
  };
}
