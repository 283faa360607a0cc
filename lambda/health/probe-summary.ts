import { KeyHealth, PASSING_RESULTS } from './key-health';

/** A vendor's keys as their latest probes see them (items older than `staleAfterMs` are left out). */
export interface ProbeSummary {
  /** Keys configured (or, without that list, keys with a fresh item). */
  total: number;
  /** Keys with a fresh probe item. */
  probed: number;
  /** State ok: the last conclusive probe passed. */
  passing: number;
  /** State disabled (invalid, out of quota). */
  failing: number;
  /** Not disabled, but the last probe did not get through (timeout, 5xx, 429): it changes nothing. */
  inconclusive: number;
  /** Keys (not disabled) at or above the quota warning. */
  quotaHot: number;
  /** Highest quota use among them (%), or null. */
  maxQuotaPercent: number | null;
  lastProbeAt: string | null;
  /** `probes ok`, `all keys failing probes`, `quota 92% used on 2 of 3 keys`, … */
  reason: string;
}

export interface SummaryOptions {
  now: number;
  staleAfterMs: number;
  quotaWarnPercent: number;
  /** The configured keys' fingerprints; items of other keys (removed ones) are ignored. */
  fingerprints?: readonly string[];
}

/** The summary of a vendor's probe items; undefined when none is fresh (no probe information). */
export function summarizeProbes(items: readonly KeyHealth[], o: SummaryOptions): ProbeSummary | undefined {
  const wanted = o.fingerprints ? new Set(o.fingerprints) : undefined;
  const fresh = items.filter((h) => (!wanted || wanted.has(h.fingerprint)) && Date.parse(h.lastProbeAt) >= o.now - o.staleAfterMs);
  if (fresh.length === 0) return undefined;
  const total = wanted ? wanted.size : fresh.length;
  const count = (f: (h: KeyHealth) => boolean) => fresh.filter(f).length;
  const hot = fresh.filter((h) => h.state !== 'disabled' && (h.quotaUsedPercent ?? 0) >= o.quotaWarnPercent);
  const s = {
    total,
    probed: fresh.length,
    passing: count((h) => h.state === 'ok'),
    failing: count((h) => h.state === 'disabled'),
    inconclusive: count((h) => h.state !== 'disabled' && !PASSING_RESULTS.has(h.probeResult)),
    quotaHot: hot.length,
    maxQuotaPercent: hot.length ? Math.max(...hot.map((h) => h.quotaUsedPercent ?? 0)) : null,
    lastProbeAt: fresh.map((h) => h.lastProbeAt).sort().at(-1) ?? null,
  };
  return { ...s, reason: reasonOf(s) };
}

function reasonOf(s: Omit<ProbeSummary, 'reason'>): string {
  if (s.total > 0 && s.failing === s.total) return 'all keys failing probes';
  if (s.quotaHot > 0) return `quota ${Math.floor(s.maxQuotaPercent ?? 0)}% used on ${s.quotaHot} of ${s.total} keys`;
  if (s.failing > 0) return `${s.failing} of ${s.total} keys failing probes`;
  if (s.inconclusive > 0) return `probes inconclusive on ${s.inconclusive} of ${s.total} keys`;
  if (s.probed < s.total) return `probes ok on ${s.probed} of ${s.total} keys`;
  return 'probes ok';
}
