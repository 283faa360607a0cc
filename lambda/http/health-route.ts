import { ROUTES } from '../contracts';
import { Clock, withTimeout } from '../domain';
import type { KeyPool } from '../keys/key-pool';
import { Counters, emptyCounters } from '../health/counters';
import type { HealthFlusher } from '../health/flusher';
import type { KeyHealth } from '../health/key-health';
import type { ProbeView } from '../health/probe-view';
import { percentile } from '../health/histogram';
import { meanQueueLength, statusOf, WindowSummary } from '../health/status';
import { HealthStore, windowElapsedMs } from '../health/store';
import { PROVIDERS, ProviderId, VENDORS, vendorOf } from '../providers/registry';
import { json, Route } from './app';
import { keyJson, probeItems, probeJson, wantsKeys } from './probe-detail';

/**
 * `GET /v1/health`: every provider, traffic or not — the 5-minute window from the store (after
 * writing this instance's pending counters), this instance's key pools, and what the scheduled
 * key probes found (`KEY_HEALTH#` items). `?keys=1` adds every key's pool state and last probe.
 */
export interface HealthRouteDeps {
  store: HealthStore;
  flusher: HealthFlusher;
  poolOf: (p: ProviderId) => KeyPool;
  /** Requests of a provider waiting in this instance's admission queue now. */
  waiting: (p: ProviderId) => number;
  clock: Clock;
  probes?: ProbeView;
}

export function healthRoute({ store, flusher, poolOf, waiting, clock, probes }: HealthRouteDeps): Route {
  const poolOfVendor = (v: string) => poolOf(PROVIDERS.find((p) => vendorOf(p.id) === v)?.id as ProviderId);
  return {
    ...ROUTES.health,
    handle: async (call) => {
      // The store gets what is left of the request's deadline, no more: a hung store makes the
      // answer say "unavailable", it never makes the answer late.
      const inTime = <T>(p: Promise<T>): Promise<T | undefined> => withTimeout(p, call.deadline - clock(), () => undefined);
      await inTime(flusher.flushUnlessBackingOff());
      const now = clock();
      let storeOk = true;
      const probed = new Map<string, KeyHealth[]>(
        probes ? await Promise.all(VENDORS.map(async (v) => [v, await probeItems(probes, v, inTime)] as const)) : [],
      );
      const summaryOf = (v: string) => probes?.summary(v, poolOfVendor(v).view().map((k) => k.fingerprint), probed.get(v));
      const entries = await Promise.all(
        PROVIDERS.map(async ({ id: p, p95ObjectiveMs, capability }) => {
          const window = await inTime(store.readWindow(p, now)).catch(() => undefined);
          if (!window) storeOk = false;
          // As this provider sees its vendor's keys: one kept out of it counts as disabled here.
          const keys = poolOf(p).counts(p);
          const w = window ?? emptyCounters();
          const summary = summaryOf(vendorOf(p));
          const s = statusOf(p95ObjectiveMs, w, keys, summary);
          return [p, {
            status: s.status,
            reason: s.reason,
            requests: w.requests,
            successes: w.successes,
            failures: w.failures,
            success_rate: s.successRate,
            ...counts(w),
            latency_ms: { p50: s.p50Ms, p95: s.p95Ms },
            ttfb_ms: { p50: s.ttfbP50Ms, p95: s.ttfbP95Ms },
            queue: queueJson(s, w, now, waiting(p)),
            ...(capability === 'job' ? { jobs: { completed: w.jobsCompleted, failed: w.jobsFailed } } : {}),
            keys,
            probes: probeJson(summary),
          }] as const;
        }),
      );
      const detail = wantsKeys(call.event.queryStringParameters) ? { vendors: vendorDetail(poolOfVendor, probed, summaryOf) } : {};
      return json(200, {
        window: '5m',
        generated_at: new Date(now).toISOString(),
        store: storeOk ? 'ok' : 'unavailable',
        providers: Object.fromEntries(entries),
        ...detail,
      });
    },
  };
}

/**
 * The admission queue over the window: how many waited and how long (p50/p95), how many were
 * refused at once, the mean number waiting fleet-wide (Little's law over the window so far), and
 * how many wait in this instance now.
 */
function queueJson(s: WindowSummary, w: Counters, now: number, here: number) {
  return {
    waited: s.queued,
    wait_ms: { p50: percentile(w.queue, 0.5) ?? null, p95: s.queueP95Ms },
    refused_at_once: s.queueRefused,
    mean_length: meanQueueLength(w, windowElapsedMs(now)),
    waiting_here: here,
  };
}

/** The window's counts besides requests, successes and failures. */
function counts(w: Counters) {
  return { rate_limited: w.rateLimited, rotations: w.rotations, stream_aborted: w.streamAborted, fallbacks: w.fallbacks };
}

function vendorDetail(poolOfVendor: (v: string) => KeyPool, probed: Map<string, KeyHealth[]>, summaryOf: (v: string) => Parameters<typeof probeJson>[0]) {
  return Object.fromEntries(VENDORS.map((v) => {
    const byFp = new Map((probed.get(v) ?? []).map((h) => [h.fingerprint, h]));
    return [v, { probes: probeJson(summaryOf(v)), keys: poolOfVendor(v).view().map((k) => keyJson(k, byFp.get(k.fingerprint))) }];
  }));
}
