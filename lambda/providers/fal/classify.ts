import type { Classification, UpstreamAnswer } from '../../domain';
import { knownCode, obj } from '../http/json';
import { retryAfterMsFrom } from '../http/retry-hints';

/** fal's `error_type` / `X-Fal-Error-Type` values (docs/providers.md §3); any other becomes `upstream_error`. */
export const FAL_CODES: ReadonlySet<string> = new Set([
  'request_timeout', 'startup_timeout', 'runner_scheduling_failure', 'runner_connection_timeout', 'runner_disconnected',
  'runner_connection_refused', 'runner_connection_error', 'runner_incomplete_response', 'runner_server_error',
  'internal_error', 'client_disconnected', 'client_cancelled', 'bad_request',
]);

/**
 * fal.ai: 403 "User is locked. Reason: Exhausted balance" / "Admin lock" is the account, not a
 * request problem: disable. Any other 403 is this key refused this app: keep it out of it. 429 on the sync path is the account's concurrency: rotate. Runner and
 * timeout errors (`error_type`) are the platform's: back off — except a 504 caused by the caller's
 * own `x-fal-request-timeout`.
 */
export function classifyFal(a: UpstreamAnswer, now: number): Classification {
  const body = obj(a.body);
  const detail = body?.detail;
  const code = knownCode(FAL_CODES, body?.error_type, a.headers['x-fal-error-type']);
  const { status } = a;
  if (status >= 200 && status < 300) return { outcome: 'ok' };
  if (status === 401) return { outcome: 'invalid_key', code: 'invalid_key' };
  if (status === 403) {
    if (typeof detail === 'string' && /exhausted balance|user is locked|admin lock/i.test(detail)) {
      return { outcome: 'quota_exhausted', code: 'account_locked' };
    }
    // Not the account: this key may not use this app (fal's per-key model access controls).
    return { outcome: 'key_forbidden', code: code ?? 'forbidden' };
  }
  if (status === 429) return { outcome: 'rate_limited', code: 'concurrency_limit', retryAfterMs: retryAfterMsFrom(a.headers, now) };
  if (status === 504 && a.headers['x-fal-request-timeout-type'] === 'user') return { outcome: 'bad_request', code: 'request_timeout' };
  if (status === 408 || status === 499 || status >= 500) return { outcome: 'overloaded', code };
  return { outcome: 'bad_request', code: code ?? (Array.isArray(detail) ? 'validation_error' : undefined) };
}
