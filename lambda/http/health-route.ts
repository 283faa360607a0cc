import { ROUTES } from '../contracts';
import { Clock, withTimeout } from '../domain';
import type { KeyPool } from '../keys/key-pool';
import { Counters, emptyCounters } from '../health/counters';
import type { HealthFlusher } from '../health/flusher';
import { statusOf } from '../health/status';
import type { HealthStore } from '../health/store';
import { PROVIDERS, ProviderId } from '../providers/registry';
import { json, Route } from './app';

/**
 * `GET /v1/health`: every provider, traffic or not — the 5-minute window from the store (after
 * writing this instance's pending counters) and this instance's key pools.
 */
export function healthRoute(store: HealthStore, flusher: HealthFlusher, poolOf: (p: ProviderId) => KeyPool, clock: Clock): Route {
  return {
    ...ROUTES.health,
    handle: async (call) => {
      // The store gets what is left of the request's deadline, no more: a hung store makes the
      // answer say "unavailable", it never makes the answer late.
      const inTime = <T>(p: Promise<T>): Promise<T | undefined> => withTimeout(p, call.deadline - clock(), () => undefined);
      await inTime(flusher.flushUnlessBackingOff());
      const now = clock();
      let storeOk = true;
      const entries = await Promise.all(
        PROVIDERS.map(async ({ id: p, p95ObjectiveMs, capability }) => {
          let window: Counters | undefined;
          try {
            window = await inTime(store.readWindow(p, now));
          } catch {
            window = undefined;
          }
          if (!window) storeOk = false;
          // As this provider sees its vendor's keys: one kept out of it counts as disabled here.
          const keys = poolOf(p).counts(p);
          const w = window ?? emptyCounters();
          const s = statusOf(p95ObjectiveMs, w, keys);
          return [p, {
            status: s.status,
            reason: s.reason,
            requests: w.requests,
            successes: w.successes,
            failures: w.failures,
            success_rate: s.successRate,
            rate_limited: w.rateLimited,
            rotations: w.rotations,
            latency_ms: { p50: s.p50Ms, p95: s.p95Ms },
            ...(capability === 'job' ? { jobs: { completed: w.jobsCompleted, failed: w.jobsFailed } } : {}),
            keys,
          }] as const;
        }),
      );
      return json(200, {
        window: '5m',
        generated_at: new Date(now).toISOString(),
        store: storeOk ? 'ok' : 'unavailable',
        providers: Object.fromEntries(entries),
      });
    },
  };
}
