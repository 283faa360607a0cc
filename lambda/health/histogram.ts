/**
 * A fixed-bucket latency histogram (three per bucket item: end-to-end latency, time to first
 * byte, and wait in the admission queue). Fixed bounds are what make it mergeable across
 * writers: every container ADDs its counts to the same DynamoDB attributes, and percentiles of
 * the whole window come from the summed counts. Precision is the bucket width (interpolated
 * linearly inside it).
 */
export const LATENCY_BOUNDS_MS = [100, 250, 500, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 30000] as const;

/** DynamoDB attribute name per bucket: `<prefix>_le_<bound>`, and `<prefix>_gt_<last>` for the overflow. */
function histogramAttrs(prefix: string): readonly string[] {
  return [...LATENCY_BOUNDS_MS.map((b) => `${prefix}_le_${b}`), `${prefix}_gt_${LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]}`];
}

/** End-to-end latency of served requests: `lat_le_100 … lat_le_30000, lat_gt_30000`. */
export const LATENCY_ATTRS = histogramAttrs('lat');

/** Time to first byte of served requests, on the same bounds: `ttfb_le_100 … ttfb_gt_30000`. */
export const TTFB_ATTRS = histogramAttrs('ttfb');

/** Time requests waited in their vendor's admission queue (those that queued): `queue_le_100 … queue_gt_30000`. */
export const QUEUE_ATTRS = histogramAttrs('queue');

export function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_ATTRS.length).fill(0);
}

export function bucketOf(ms: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) if (ms <= LATENCY_BOUNDS_MS[i]) return i;
  return LATENCY_BOUNDS_MS.length;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram, interpolated inside its bucket; undefined when empty.
 * The overflow bucket reports its lower bound (the value is "at least" that).
 */
export function percentile(counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      if (i >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
      const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
      const hi = LATENCY_BOUNDS_MS[i];
      return Math.round(lo + ((hi - lo) * (rank - seen)) / counts[i]);
    }
    seen += counts[i];
  }
  return undefined;
}
