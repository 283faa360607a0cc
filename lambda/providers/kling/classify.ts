import type { Classification, UpstreamAnswer } from '../../domain';
import { retryAfterMsFrom } from '../http/retry-hints';
import { knownCode, obj } from '../http/json';

/** Kling business codes (docs/providers.md) by what they mean for the key. */
const KLING_AUTH_INVALID = new Set([1000, 1001, 1002]);
const KLING_TOKEN_CLOCK = new Set([1003, 1004]);
const KLING_QUOTA = new Set([1100, 1101, 1102]);
const KLING_RATE = new Set([1302, 1303]);
/** No permission for this API or model (1103): the key, for this operation. */
const KLING_FORBIDDEN = new Set([1103]);
/** IP whitelist (1304): the key cannot be used from here at all. */
const KLING_PERMISSION = new Set([1304]);
const KLING_OVERLOAD = new Set([5000, 5001, 5002]);
/** Kling's other documented codes (invalid parameters, policy, not found). */
const KLING_REQUEST = [1200, 1201, 1202, 1203, 1300, 1301];

/** Every business code of Kling's table (docs/providers.md §4), as `kling_<code>`; any other becomes `upstream_error`. */
export const KLING_CODES: ReadonlySet<string> = new Set(
  [KLING_AUTH_INVALID, KLING_TOKEN_CLOCK, KLING_QUOTA, KLING_RATE, KLING_FORBIDDEN, KLING_PERMISSION, KLING_OVERLOAD, KLING_REQUEST].flatMap((s) => [...s]).map((c) => `kling_${c}`),
);

/**
 * Kling answers with an HTTP status and a business `code`; the code decides. A token that is not
 * yet valid or expired (1003/1004) is our clock or our cache, not a bad key: re-mint and retry
 * rather than disable. No permission for the API or model (1103) keeps the key out of this provider;
 * an IP whitelist (1304) makes it useless from here, so it is disabled like an invalid key.
 */
export function classifyKling(a: UpstreamAnswer, now: number): Classification {
  const rawCode = obj(a.body)?.code;
  const code = typeof rawCode === 'number' ? rawCode : Number.NaN;
  const tag = knownCode(KLING_CODES, Number.isFinite(code) ? `kling_${code}` : rawCode);
  const { status } = a;
  if (status >= 200 && status < 300 && (code === 0 || Number.isNaN(code))) return { outcome: 'ok' };
  if (KLING_TOKEN_CLOCK.has(code)) return { outcome: 'overloaded', code: tag };
  if (KLING_AUTH_INVALID.has(code) || KLING_PERMISSION.has(code)) return { outcome: 'invalid_key', code: tag };
  if (KLING_FORBIDDEN.has(code)) return { outcome: 'key_forbidden', code: tag };
  if (KLING_QUOTA.has(code)) return { outcome: 'quota_exhausted', code: tag };
  if (KLING_RATE.has(code)) return { outcome: 'rate_limited', code: tag, retryAfterMs: retryAfterMsFrom(a.headers, now) };
  if (KLING_OVERLOAD.has(code)) return { outcome: 'overloaded', code: tag };
  if (status === 401) return { outcome: 'invalid_key', code: tag };
  if (status === 403) return { outcome: 'key_forbidden', code: tag };
  if (status === 429) return { outcome: 'rate_limited', code: tag, retryAfterMs: retryAfterMsFrom(a.headers, now) };
  if (status === 408 || status >= 500) return { outcome: 'overloaded', code: tag };
  return { outcome: 'bad_request', code: tag };
}
