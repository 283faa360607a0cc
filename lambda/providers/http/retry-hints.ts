import type { HeaderMap } from '../../domain';

/**
 * Reads how long a provider asked us to wait, from whichever hint it sent, most precise first:
 * `retry-after-ms` (float ms), `Retry-After` (delta seconds or an HTTP date), then OpenAI's
 * `x-ratelimit-reset-requests` / `-tokens` (Go-style durations such as `6m0s`, `1s`, `12ms`; when
 * both are present the request limit is the one that refused us, but we take the longer one only
 * if remaining requests are not exhausted — see below). Returns undefined when no usable hint.
 *
 * The value is not capped here; capping is the key pool's policy (`cooldownFor`).
 */
export function retryAfterMsFrom(headers: HeaderMap, now: number): number | undefined {
  const ms = headers['retry-after-ms'];
  if (ms !== undefined) {
    const v = Number(ms.trim());
    if (Number.isFinite(v) && v >= 0) return Math.ceil(v);
  }
  const ra = headers['retry-after'];
  if (ra !== undefined) {
    const v = parseRetryAfter(ra, now);
    if (v !== undefined) return v;
  }
  // OpenAI: the exhausted budget (remaining 0) is the one whose reset matters.
  const resets: number[] = [];
  for (const kind of ['requests', 'tokens'] as const) {
    const reset = headers[`x-ratelimit-reset-${kind}`];
    if (reset === undefined) continue;
    const d = parseGoDuration(reset);
    if (d === undefined) continue;
    const remaining = headers[`x-ratelimit-remaining-${kind}`];
    if (remaining !== undefined && Number(remaining) > 0) continue;
    resets.push(d);
  }
  if (resets.length > 0) return Math.max(...resets);
  return undefined;
}

/** `Retry-After`: non-negative delta seconds (fractions tolerated) or an HTTP date. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const s = value.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.ceil(Number(s) * 1000);
  if (!/[a-z]/i.test(s)) return undefined; // e.g. "-5": not a date either
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

const GO_UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

/** Go `time.Duration` strings: `6m0s`, `1.5s`, `12ms`, `1h2m3.5s`. A bare number is seconds. */
export function parseGoDuration(value: string): number | undefined {
  const s = value.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.ceil(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * GO_UNIT_MS[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || consumed === 0) return undefined;
  return Math.ceil(total);
}
