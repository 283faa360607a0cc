import { KeyProbe, MalformedAnswer } from '../../domain';
import { obj } from '../http/json';
import { classifyElevenLabs } from './classify';

/**
 * ElevenLabs' probe: `GET /v1/user/subscription` — the account's character quota
 * (`character_count` of `character_limit`, reset at `next_character_count_reset_unix`). Used up
 * means exhausted, unless the account may extend past its limit (`can_extend_character_limit` and
 * `allowed_to_extend_character_limit`: usage-based billing switched on). A key without
 * the `user_read` permission answers 401 `missing_permissions`: valid, just not allowed to look.
 */
export function elevenlabsProbe(baseUrl: string): KeyProbe {
  return {
    route: 'GET /v1/user/subscription',
    spacingMs: 0,
    request: (key) => ({ method: 'GET', url: `${baseUrl}/v1/user/subscription`, headers: { 'xi-api-key': key.secret(), accept: 'application/json' } }),
    classify: classifyElevenLabs,
    notVisible: (a) => a.status === 401 && obj(obj(a.body)?.detail)?.status === 'missing_permissions',
    read: (body) => {
      const o = obj(body);
      const used = o?.character_count;
      const limit = o?.character_limit;
      if (typeof used !== 'number' || typeof limit !== 'number') throw new MalformedAnswer('subscription: no character_count/character_limit');
      const reset = o?.next_character_count_reset_unix;
      const extendable = o?.can_extend_character_limit === true && o?.allowed_to_extend_character_limit === true;
      return {
        // Past the limit with usage-based billing on, the account still works: not exhausted, but no quota left either.
        exhausted: !extendable && limit > 0 && used >= limit,
        quotaLeft: used < limit,
        quotaUsed: used,
        quotaLimit: limit,
        ...(typeof reset === 'number' && reset > 0 ? { quotaResetAt: reset * 1000 } : {}),
      };
    },
  };
}
