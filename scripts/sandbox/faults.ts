/**
 * Per-vendor fault queues. `injectFaults(vendor, [...])` appends; each API request to that vendor
 * (after routing, authentication and rate limiting have let it through) takes the first fault in the
 * queue that applies to its endpoint, and each fault is used `times` times (default 1).
 *
 * Applicability: `malformed_json` only matches JSON endpoints, `truncated_audio` only audio
 * endpoints (OpenAI speech, ElevenLabs TTS), `body_size` only endpoints that can be sized (speech and
 * OpenAI images); every other kind matches any endpoint of the vendor (including Kling/fal polling and
 * the probe routes). A fault with `key` or `pathIncludes` only matches those calls. A non-matching
 * fault stays queued for a later request, and faults behind it may be used first. Downloads of
 * generated files (/files/...) never take faults.
 */
import type { Fault, Vendor } from './types';

export type EndpointKind = 'json' | 'audio';

/** What a call offers for fault matching. */
export interface FaultTarget {
  kind: EndpointKind;
  /** The route can answer a `body_size` fault. */
  sizable: boolean;
  path: string;
  /** The identity of the caller (Kling: access key). */
  key: string;
}

interface Pending {
  fault: Fault;
  left: number;
}

export function faultApplies(fault: Fault, target: FaultTarget, vendor?: Vendor): boolean {
  if (fault.key !== undefined) {
    // Kling faults may name `ACCESS:SECRET`; Kling calls are identified by the access key.
    const want = vendor === 'kling' && fault.key.includes(':') ? fault.key.slice(0, fault.key.indexOf(':')).trim() : fault.key;
    if (want !== target.key) return false;
  }
  if (fault.pathIncludes !== undefined && !target.path.includes(fault.pathIncludes)) return false;
  if (fault.kind === 'malformed_json') return target.kind === 'json';
  if (fault.kind === 'truncated_audio') return target.kind === 'audio';
  if (fault.kind === 'body_size') return target.sizable;
  return true;
}

export class FaultQueues {
  private readonly queues = new Map<Vendor, Pending[]>();

  inject(vendor: Vendor, faults: Fault[]): void {
    const q = this.queues.get(vendor) ?? [];
    for (const fault of faults) {
      const times = fault.times ?? 1;
      if (!Number.isInteger(times) || times < 1) throw new Error(`fault times must be a positive integer, got ${String(fault.times)}`);
      if ((fault.kind === 'status' || (fault.kind === 'echo' && fault.status !== undefined)) && !isStatus(fault.status)) {
        throw new Error(`fault status must be an HTTP status, got ${String(fault.status)}`);
      }
      if (fault.kind === 'body_size' && !(Number.isInteger(fault.bytes) && fault.bytes > 0)) throw new Error(`body_size needs bytes > 0, got ${String(fault.bytes)}`);
      if (fault.kind === 'midstream_reset' && !(Number.isInteger(fault.afterBytes) && fault.afterBytes >= 0)) {
        throw new Error(`midstream_reset needs afterBytes >= 0, got ${String(fault.afterBytes)}`);
      }
      q.push({ fault, left: times });
    }
    this.queues.set(vendor, q);
  }

  /** Take the next fault applicable to this call, if any. */
  take(vendor: Vendor, target: FaultTarget): Fault | undefined {
    const q = this.queues.get(vendor);
    if (!q) return undefined;
    const i = q.findIndex((p) => faultApplies(p.fault, target, vendor));
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

function isStatus(s: unknown): boolean {
  return typeof s === 'number' && Number.isInteger(s) && s >= 100 && s <= 599;
}
