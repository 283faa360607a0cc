import type { Classification, UpstreamAnswer } from '../../domain';
import { knownCode, obj } from '../http/json';
import { retryAfterMsFrom } from '../http/retry-hints';

/** Every `detail.status` / `detail.code` ElevenLabs is known to send (docs/providers.md §2, §6); any other becomes `upstream_error`. */
export const ELEVENLABS_CODES: ReadonlySet<string> = new Set([
  'quota_exceeded', 'invalid_api_key', 'needs_authorization', 'missing_permissions', 'voice_not_found', 'model_not_found',
  'max_character_limit_exceeded', 'only_for_creator+', 'subscription_required', 'too_many_concurrent_requests', 'system_busy',
  'invalid_request', 'internal_server_error',
]);

/**
 * ElevenLabs: both 401 and 429 are ambiguous. 401 `quota_exceeded` is an exhausted account (not a
 * bad key), 401 `missing_permissions` a key restricted to other endpoints; 429 `system_busy` is the
 * platform's load (back off, any key), while `too_many_concurrent_requests` is this account's
 * concurrency cap (rotate).
 */
export function classifyElevenLabs(a: UpstreamAnswer, now: number): Classification {
  const detail = obj(obj(a.body)?.detail);
  const code = knownCode(ELEVENLABS_CODES, detail?.status, detail?.code);
  const { status } = a;
  if (status >= 200 && status < 300) return { outcome: 'ok' };
  // A key restricted to other endpoints: fine for them, useless for this one (401 is what is seen).
  if ((status === 401 || status === 403) && code === 'missing_permissions') return { outcome: 'key_forbidden', code };
  if (status === 401) {
    return code === 'quota_exceeded' ? { outcome: 'quota_exhausted', code } : { outcome: 'invalid_key', code: code ?? 'invalid_api_key' };
  }
  // A feature above the account's tier is the request's (docs/providers.md §5); any other 403 the key's.
  if (status === 403 && code !== 'only_for_creator+' && code !== 'subscription_required') return { outcome: 'key_forbidden', code: code ?? 'forbidden' };
  if (status === 429) {
    if (code === 'system_busy') return { outcome: 'overloaded', code, retryAfterMs: retryAfterMsFrom(a.headers, now) };
    return { outcome: 'rate_limited', code: code ?? 'too_many_concurrent_requests', retryAfterMs: retryAfterMsFrom(a.headers, now) };
  }
  if (status === 408 || status >= 500) return { outcome: 'overloaded', code };
  return { outcome: 'bad_request', code };
}
