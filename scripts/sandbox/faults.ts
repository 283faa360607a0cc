/**
 * Per-vendor fault queues. `injectFaults(vendor, [...])` appends; each API request to that vendor
 * (after routing, authentication and rate limiting have let it through) takes the first fault in the
 * queue that applies to its endpoint, and each fault is used `times` times (default 1).
 *
 * Applicability: `malformed_json` only matches JSON endpoints, `truncated_audio` only audio
 * endpoints (OpenAI speech, ElevenLabs TTS); every other kind matches any endpoint of the vendor
 * (including Kling/fal polling). A non-matching fault stays queued for a later request, and faults
 * behind it may be used first. Downloads of generated files (/files/...) never take faults.
 */
import type { Fault, Vendor } from './types';

export type EndpointKind = 'json' | 'audio';

interface Pending {
  fault: Fault;
  left: number;
}

export function faultApplies(fault: Fault, kind: EndpointKind): boolean {
  if (fault.kind === 'malformed_json') return kind === 'json';
  if (fault.kind === 'truncated_audio') return kind === 'audio';
  return true;
}

export class FaultQueues {
  private readonly queues = new Map<Vendor, Pending[]>();

  inject(vendor: Vendor, faults: Fault[]): void {
    const q = this.queues.get(vendor) ?? [];
    for (const fault of faults) {
      const times = fault.times ?? 1;
      if (!Number.isInteger(times) || times < 1) throw new Error(`fault times must be a positive integer, got ${String(fault.times)}`);
      if (fault.kind === 'status' && (!Number.isInteger(fault.status) || fault.status < 100 || fault.status > 599)) {
        throw new Error(`fault status must be an HTTP status, got ${String(fault.status)}`);
      }
      q.push({ fault, left: times });
    }
    this.queues.set(vendor, q);
  }

  /** Take the next fault applicable to an endpoint of `kind`, if any. */
  take(vendor: Vendor, kind: EndpointKind): Fault | undefined {
    const q = this.queues.get(vendor);
    if (!q) return undefined;
    const i = q.findIndex((p) => faultApplies(p.fault, kind));
    if (i < 0) return undefined;
    const p = q[i];
    if (!p) return undefined;
    p.left -= 1;
    if (p.left <= 0) q.splice(i, 1);
    return p.fault;
  }

  pending(vendor: Vendor): number {
    return (this.queues.get(vendor) ?? []).reduce((n, p) => n + p.left, 0);
  }

  clear(): void {
    this.queues.clear();
  }
}
