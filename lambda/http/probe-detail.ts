import type { KeyHealth } from '../health/key-health';
import type { ProbeSummary } from '../health/probe-summary';
import type { ProbeView } from '../health/probe-view';
import type { KeyView } from '../keys/key-lease';

/** A vendor's probe results for `/v1/health`: the store's items (or, when it cannot answer in time, the cached ones). */
export async function probeItems(view: ProbeView, vendor: string, inTime: <T>(p: Promise<T>) => Promise<T | undefined>): Promise<KeyHealth[]> {
  const items = await inTime(view.read(vendor)).catch(() => undefined);
  return items ?? view.items(vendor);
}

/** The probes' summary of one vendor, as `/v1/health` shows it (null: no fresh probe result). */
export function probeJson(s: ProbeSummary | undefined): Record<string, unknown> | null {
  if (!s) return null;
  return {
    reason: s.reason,
    keys_passing: s.passing,
    keys_failing: s.failing,
    keys_inconclusive: s.inconclusive,
    keys_probed: s.probed,
    quota_max_used_percent: s.maxQuotaPercent,
    last_probe_at: s.lastProbeAt,
  };
}

/**
 * Per-key detail (`/v1/health?keys=1`): every configured key of this instance's pool by public id
 * and fingerprint — its state in the pool and its last probe, with the quota figures the vendor
 * shows. Never any key material.
 */
export function keyJson(k: KeyView, h: KeyHealth | undefined): Record<string, unknown> {
  return {
    id: k.id,
    fingerprint: k.fingerprint,
    pool: k.state,
    ...(k.until !== undefined ? { pool_until: new Date(k.until).toISOString(), pool_reason: k.reason } : {}),
    state: h?.state ?? 'unknown',
    probe_result: h?.probeResult ?? null,
    last_probe_at: h?.lastProbeAt ?? null,
    latency_ms: h?.latencyMs ?? null,
    ...(h?.httpStatus !== undefined ? { http_status: h.httpStatus } : {}),
    ...(h?.quotaLimit !== undefined ? { quota_used: h.quotaUsed ?? null, quota_limit: h.quotaLimit, quota_used_percent: h.quotaUsedPercent ?? null } : {}),
    ...(h?.quotaResetAt !== undefined ? { quota_reset_at: h.quotaResetAt } : {}),
    ...(h?.balance !== undefined ? { balance: h.balance, currency: h.currency ?? null } : {}),
  };
}

/** `?keys=1` (also `true`, `yes`). */
export function wantsKeys(query: Record<string, string | undefined> | null | undefined): boolean {
  return /^(1|true|yes)$/i.test(query?.keys ?? '');
}
