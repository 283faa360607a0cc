import { ROTATED_MESSAGE } from '../contracts';
import type { Log } from '../domain';
import type { RotationEvents } from '../rotation/events';

/**
 * The rotation loop's events as log lines (keys by public id only). Every line about a key switch
 * contains `rotated`, which the log metric filter counts.
 */
export function rotationLog(log: Log): RotationEvents {
  return {
    attempt: (e) => {
      // The answer was bigger than the gateway reads whole (MAX_UPSTREAM_BYTES): refused, named.
      if (e.code === 'answer_too_large') log.warn('provider answer too large; refused', { provider: e.provider, key: e.keyId });
    },
    rotated: (e) => log.info(ROTATED_MESSAGE, { ...e }),
    keyCooling: (e) => log.warn('key rate limited', { provider: e.provider, key: e.keyId, retryAfterMs: e.retryAfterMs, hinted: e.hinted }),
    keyDisabled: (e) => log.warn('key disabled', { provider: e.provider, key: e.keyId, reason: e.reason, reprobeInMs: e.forMs }),
    everyKeyRefused: (e) => log.warn('every key refused the request the same way; keys kept in', { provider: e.provider, status: e.status, code: e.code }),
    keyResting: (e) => log.info('key resting: request budget spent', { provider: e.provider, key: e.keyId, restMs: e.restMs }),
    queued: (e) => log.info('key queued', { provider: e.provider, waitedMs: e.waitedMs, outcome: e.outcome, retryAfterMs: e.retryAfterMs }),
    backoff: (e) => log.warn('provider error, backing off', { provider: e.provider, key: e.keyId, status: e.status, code: e.code, backoffMs: e.backoffMs }),
  };
}
