/**
 * Per-key request limiting with a SLIDING window log: a key may make `calls` admitted calls in any
 * interval of `windowMs`. A rejected call does not consume budget (but the sandbox still counts it in
 * `calls()`). `retryAfterMs` is exact: the time until the oldest admitted call leaves the window.
 */
import type { RateLimit, RetryHint, Vendor } from './types';

export interface LimitVerdict {
  ok: boolean;
  /** The limit that applied (null = unlimited). */
  limit: RateLimit | null;
  /** Calls left in the window after this one (when ok). */
  remaining: number;
  /** ok: ms until the window has room for one more call than now (0 if it already has); !ok: ms until the next call is admitted. */
  resetMs: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** Admit (and record) a call for `vendor`/`key` under `limit`, or refuse it. `bucket` keeps a
   * route's own window apart from the key's main one (Kling's 1 request/s on /account/costs). */
  take(vendor: Vendor, key: string, limit: RateLimit | null, bucket = ''): LimitVerdict {
    if (!limit) return { ok: true, limit: null, remaining: Number.MAX_SAFE_INTEGER, resetMs: 0 };
    const id = `${vendor}\u0000${key}\u0000${bucket}`;
    const t = this.now();
    const recent = (this.windows.get(id) ?? []).filter((at) => at > t - limit.windowMs);
    if (recent.length >= limit.calls) {
      this.windows.set(id, recent);
      const oldest = recent[recent.length - limit.calls] ?? t;
      return { ok: false, limit, remaining: 0, resetMs: Math.max(1, oldest + limit.windowMs - t) };
    }
    recent.push(t);
    this.windows.set(id, recent);
    const remaining = Math.max(0, limit.calls - recent.length);
    const oldest = recent[0] ?? t;
    return { ok: true, limit, remaining, resetMs: Math.max(0, oldest + limit.windowMs - t) };
  }

  clear(): void {
    this.windows.clear();
  }
}

/** Go-style duration as OpenAI prints it in x-ratelimit-reset-*: "850ms", "1s", "20.5s", "6m0s", "1h2m3s". */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const sMs = total % 60_000;
  const s = sMs % 1000 === 0 ? String(sMs / 1000) : (sMs / 1000).toFixed(3).replace(/0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * Headers that advertise a wait of `retryAfterMs` according to `hint`.
 * `openaiReset` adds OpenAI's x-ratelimit-reset-requests to every hint except 'none'.
 */
export function retryHeaders(
  hint: RetryHint,
  retryAfterMs: number,
  nowMs: number,
  openaiReset: boolean,
): Record<string, string> {
  const h: Record<string, string> = {};
  const reset = goDuration(retryAfterMs);
  switch (hint) {
    case 'seconds':
      h['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
      break;
    case 'ms':
      h['retry-after-ms'] = String(Math.max(1, Math.ceil(retryAfterMs)));
      break;
    case 'http-date':
      // HTTP dates have 1 s resolution: round up so the advertised instant is never too early.
      h['retry-after'] = new Date(Math.ceil((nowMs + retryAfterMs) / 1000) * 1000).toUTCString();
      break;
    case 'reset-header':
      h['x-ratelimit-reset-requests'] = reset;
      break;
    case 'absurd':
      h['retry-after'] = '999999';
      break;
    case 'none':
      return h;
  }
  if (openaiReset) h['x-ratelimit-reset-requests'] = reset;
  return h;
}
