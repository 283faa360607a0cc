import { KeyProbe, MalformedAnswer, UpstreamAnswer } from '../../domain';
import { obj } from '../http/json';
import { classifyFal } from './classify';
import { falAuth } from './flux';

/**
 * fal's probe: the platform API's `GET /account/billing?expand=credits` — the account's credit
 * balance. A balance at or below zero is exhausted (fal locks the account: "Exhausted balance").
 * The route needs `billing:usage:read`; an inference-only key answers 403, which is "not visible",
 * never "invalid" (the same key still runs models) — unless the 403 is the account lock itself.
 */
/** The platform API words its errors `{"error":{"type","message"}}`: an account lock may come that way too. */
function locked(a: UpstreamAnswer): boolean {
  const message = obj(obj(a.body)?.error)?.message;
  return a.status === 403 && typeof message === 'string' && /exhausted balance|user is locked|admin lock/i.test(message);
}

export function falProbe(platformBaseUrl: string): KeyProbe {
  return {
    route: 'GET /account/billing?expand=credits',
    spacingMs: 0,
    request: (key) => ({ method: 'GET', url: `${platformBaseUrl}/account/billing?expand=credits`, headers: falAuth(key.secret()) }),
    classify: (a, now) => (locked(a) ? { outcome: 'quota_exhausted', code: 'account_locked' } : classifyFal(a, now)),
    notVisible: (a) => a.status === 403 && !locked(a) && classifyFal(a, 0).outcome !== 'quota_exhausted',
    read: (body) => {
      const o = obj(body);
      if (typeof o?.username !== 'string' && !obj(o?.credits)) throw new MalformedAnswer('billing: no account');
      const credits = obj(o?.credits);
      const balance = credits?.current_balance;
      if (typeof balance !== 'number') return { exhausted: false };
      return {
        exhausted: balance <= 0,
        quotaLeft: balance > 0,
        balance,
        ...(typeof credits?.currency === 'string' ? { currency: credits.currency.slice(0, 8) } : {}),
      };
    },
  };
}
