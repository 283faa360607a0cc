import type { Classification, UpstreamAnswer } from '../../domain';
import { knownCode, obj } from '../http/json';
import { parseGoDuration, retryAfterMsFrom } from '../http/retry-hints';

/** Newer quota bodies keep `type: insufficient_quota` but vary `code` (docs/providers.md; partly unconfirmed by OpenAI). */
const QUOTA_CODES = new Set([
  'insufficient_quota',
  'credit_balance_exhausted',
  'organization_spend_limit_exceeded',
  'project_spend_limit_exceeded',
  'organization_usage_limit_exceeded',
  'billing_hard_limit_reached',
]);
/** 429s that are the platform's load, not this key's budget. */
const OVERLOAD_CODES = new Set(['server_is_overloaded', 'slow_down', 'engine_overloaded']);

/**
 * Every `error.code` / `error.type` OpenAI is known to send (docs/providers.md §1, §6): the only
 * ones passed on to clients and logs; any other becomes `upstream_error`.
 */
export const OPENAI_CODES: ReadonlySet<string> = new Set([
  ...QUOTA_CODES,
  ...OVERLOAD_CODES,
  'invalid_api_key', 'rate_limit_exceeded', 'model_not_found', 'missing_scope', 'content_policy_violation',
  'unsupported_country_region_territory',
  'string_above_max_length', 'invalid_value', 'invalid_type', 'decimal_above_max_value', 'decimal_below_min_value',
  'missing_required_parameter', 'unknown_parameter', 'unsupported_parameter', 'unsupported_value',
  // types
  'invalid_request_error', 'server_error', 'requests', 'tokens', 'request_forbidden',
]);

/** A restricted key's refusal ("You have insufficient permissions for this operation. Missing scopes: …"). */
const MISSING_SCOPE = /missing scopes?|insufficient permissions/i;

/**
 * OpenAI: 429 is ambiguous — `rate_limit_exceeded` cools the key, `insufficient_quota` disables it
 * (LiteLLM conflates them). 401 is ambiguous too: `invalid_api_key` (or any other 401) means the key
 * is unusable, but a restricted key missing a scope also answers 401 (with `code: null`; 403 is
 * seen too) — that key is fine for its other operations (see `refusal`).
 */
export function classifyOpenAI(a: UpstreamAnswer, now: number): Classification {
  const err = obj(obj(a.body)?.error);
  const code = knownCode(OPENAI_CODES, err?.code, err?.type);
  const { status } = a;
  if (status >= 200 && status < 300) {
    // OpenAI reports the request budget on every answer: spent now means the next call would 429.
    if (a.headers['x-ratelimit-remaining-requests']?.trim() === '0') {
      const reset = parseGoDuration(a.headers['x-ratelimit-reset-requests'] ?? '');
      if (reset !== undefined && reset > 0) return { outcome: 'ok', budgetSpentForMs: reset };
    }
    return { outcome: 'ok' };
  }
  if (status === 429) {
    if (QUOTA_CODES.has(String(err?.code)) || QUOTA_CODES.has(String(err?.type))) {
      return { outcome: 'quota_exhausted', code };
    }
    if (OVERLOAD_CODES.has(String(err?.code))) return { outcome: 'overloaded', code, retryAfterMs: retryAfterMsFrom(a.headers, now) };
    return { outcome: 'rate_limited', code: code ?? 'rate_limit_exceeded', retryAfterMs: retryAfterMsFrom(a.headers, now) };
  }
  if (status === 401 || status === 403 || status === 404) return refusal(status, err, code);
  if (status === 408 || status === 409 || status >= 500) return { outcome: 'overloaded', code };
  return { outcome: 'bad_request', code };
}

/**
 * 401/403/404, by what they say about the key (docs/providers.md §6): a missing scope, a model the
 * key's project may not use (403 "Project … does not have access to model", or 404 `model_not_found`:
 * the gateway only sends models it knows exist) and any other 403 are this key's, for this
 * operation only (`key_forbidden`); a region refusal is the gateway's host, whatever the key.
 */
function refusal(status: number, err: Record<string, unknown> | undefined, code: string | undefined): Classification {
  const scope = err?.code === 'missing_scope' || MISSING_SCOPE.test(String(err?.message ?? ''));
  if (status === 401) {
    return scope && err?.code !== 'invalid_api_key' ? { outcome: 'key_forbidden', code: 'missing_scope' } : { outcome: 'invalid_key', code: code ?? 'invalid_api_key' };
  }
  if (err?.code === 'model_not_found') return { outcome: 'key_forbidden', code: 'model_not_found' };
  if (status === 404) return { outcome: 'bad_request', code };
  if (err?.code === 'unsupported_country_region_territory') return { outcome: 'bad_request', code };
  return { outcome: 'key_forbidden', code: scope ? 'missing_scope' : (code ?? 'permission_denied') };
}
