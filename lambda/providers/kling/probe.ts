import { AccountFigures, Clock, KeyProbe, MalformedAnswer } from '../../domain';
import { obj } from '../http/json';
import { KlingTokens } from './tokens';

/** Packs bought up to this long ago are asked for: annual packs included (the route filters by time). */
const LOOKBACK_MS = 400 * 24 * 60 * 60_000;
/** Kling: "control the request rate (QPS<=1)" per account; a margin on top. */
export const KLING_PROBE_SPACING_MS = 1_100;

/**
 * Kling's probe: `GET /account/costs` — the account's resource packs (`remaining_quantity` of
 * `total_quantity`, lagging up to 12 h). Exhausted when there are packs and none is online with
 * units left (`runOut` / `expired` are final, so the lag cannot make that wrong); an account
 * without packs (pay as you go) shows no quota. At most one call per second per account.
 */
export function klingProbe(baseUrl: string, clock: Clock): KeyProbe {
  const tokens = new KlingTokens(clock);
  return {
    route: 'GET /account/costs',
    spacingMs: KLING_PROBE_SPACING_MS,
    request: async (key, now) => ({
      method: 'GET',
      url: `${baseUrl}/account/costs?start_time=${now - LOOKBACK_MS}&end_time=${now}`,
      headers: { authorization: await tokens.bearer(key), accept: 'application/json' },
    }),
    classify: (a, now) => tokens.classify(undefined, a, now),
    notVisible: () => false,
    read: (body) => klingFigures(body),
  };
}

function klingFigures(body: unknown): AccountFigures {
  const packs = obj(obj(body)?.data)?.resource_pack_subscribe_infos;
  if (!Array.isArray(packs)) throw new MalformedAnswer('costs: no resource_pack_subscribe_infos[]');
  const live = packs.map(obj).filter((p) => p?.status === 'online');
  if (packs.length === 0) return { exhausted: false };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const total = live.reduce((s, p) => s + num(p?.total_quantity), 0);
  const remaining = live.reduce((s, p) => s + num(p?.remaining_quantity), 0);
  const expiries = live.map((p) => num(p?.invalid_time)).filter((t) => t > 0);
  return {
    exhausted: remaining <= 0,
    quotaLeft: remaining > 0,
    quotaUsed: Math.max(0, total - remaining),
    quotaLimit: total,
    ...(expiries.length ? { quotaResetAt: Math.min(...expiries) } : {}),
  };
}
