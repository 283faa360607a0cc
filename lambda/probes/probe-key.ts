import { AccountFigures, KeyProbe, MalformedAnswer, Transport, TransportError, VendorId } from '../domain';
import { KeyHealth, PASSING_RESULTS } from '../health/key-health';
import type { KeyLease } from '../keys/key-lease';
import type { ProbeDeps } from './deps';
import { ProbeAnswer, PoolKey, Verdict, verdictOf } from './verdict';

/** One key's probe, as the run reports it. */
export interface KeyProbeReport {
  keyId: string;
  result: KeyHealth['probeResult'];
  state: KeyHealth['state'];
  passed: boolean;
  conclusive: boolean;
  /** No HTTP answer at all (timeout, connection error). */
  transportError: boolean;
  /** What the probe did to the key. */
  did: 'nothing' | 'disabled' | 'reenabled';
  quotaUsedPercent?: number;
}

/**
 * Probes one key: the call, the vendor's classification, the verdict and its action (disable or
 * lift a disable, fleet-wide), the key's KEY_HEALTH item, and one log line when its state changed.
 */
export async function probeKey(vendor: VendorId, probe: KeyProbe, lease: KeyLease, timeoutMs: number, deps: ProbeDeps, prev?: KeyHealth): Promise<{ item: KeyHealth; report: KeyProbeReport }> {
  const startedAt = deps.clock();
  const answer = await ask(probe, lease, timeoutMs, deps.transport, startedAt);
  const latencyMs = deps.clock() - startedAt;
  const v = verdictOf(answer, poolKey(deps, vendor, lease), prev?.state);
  const did = await act(vendor, lease, v, startedAt, deps);
  const item = itemOf(vendor, lease, v, answer, { prev, latencyMs, at: startedAt });
  logChange(deps, vendor, lease, v, item, did, prev);
  const report: KeyProbeReport = {
    keyId: lease.id, result: v.result, state: v.state, passed: v.passed, conclusive: v.conclusive,
    transportError: answer.kind === 'transport_error', did, quotaUsedPercent: item.quotaUsedPercent,
  };
  return { item, report };
}

async function ask(probe: KeyProbe, lease: KeyLease, timeoutMs: number, transport: Transport, now: number): Promise<ProbeAnswer> {
  let raw;
  try {
    raw = await transport.send(await probe.request(lease, now), timeoutMs);
  } catch (err) {
    if (err instanceof TransportError) return { kind: 'transport_error', timedOut: err.timedOut };
    throw err;
  }
  if (probe.notVisible(raw)) return { kind: 'answer', status: raw.status, outcome: 'bad_request', notVisible: true };
  // Wall time, not the injected clock: HTTP-date hints are wall-clock dates.
  const c = probe.classify(raw, Date.now());
  if (c.outcome !== 'ok') return { kind: 'answer', status: raw.status, outcome: c.outcome, notVisible: false };
  try {
    return { kind: 'answer', status: raw.status, outcome: 'ok', notVisible: false, figures: probe.read(raw.body) };
  } catch (err) {
    if (err instanceof MalformedAnswer) return { kind: 'malformed', status: raw.status };
    throw err;
  }
}

function poolKey(deps: ProbeDeps, vendor: VendorId, lease: KeyLease): PoolKey {
  const k = deps.pools.get(vendor).view().find((x) => x.fingerprint === lease.fingerprint);
  return { state: k?.state ?? 'usable', reason: k?.reason };
}

/** The verdict's action, through the same pool marks and fleet state user traffic uses. */
async function act(vendor: VendorId, lease: KeyLease, v: Verdict, startedAt: number, deps: ProbeDeps): Promise<KeyProbeReport['did']> {
  const pool = deps.pools.get(vendor);
  if (v.action.kind === 'disable') {
    const was = poolKey(deps, vendor, lease).state;
    // Published fleet-wide by the shared key state, like a disable learnt from a user request.
    pool.markDisabled(lease, v.action.reason);
    return was === 'disabled' ? 'nothing' : 'disabled';
  }
  if (v.action.kind === 'reenable') {
    if (deps.fleet) await deps.fleet.reenable(vendor, lease, startedAt);
    else pool.reenable(lease.fingerprint, startedAt);
    return poolKey(deps, vendor, lease).state === 'disabled' ? 'nothing' : 'reenabled';
  }
  return 'nothing';
}

function itemOf(vendor: VendorId, lease: KeyLease, v: Verdict, a: ProbeAnswer, o: { prev?: KeyHealth; latencyMs: number; at: number }): KeyHealth {
  const figures = a.kind === 'answer' ? a.figures : undefined;
  // A transient failure keeps the last figures seen; a conclusive answer replaces them.
  const quota = figures ? quotaOf(figures) : v.conclusive ? {} : carried(o.prev);
  return {
    vendor,
    fingerprint: lease.fingerprint,
    keyId: lease.id,
    state: v.state,
    probeResult: v.result,
    lastProbeAt: new Date(o.at).toISOString(),
    latencyMs: Math.round(o.latencyMs),
    ...(a.kind === 'transport_error' ? {} : { httpStatus: a.status }),
    ...quota,
  };
}

type Quota = Pick<KeyHealth, 'quotaUsed' | 'quotaLimit' | 'quotaUsedPercent' | 'quotaResetAt' | 'balance' | 'currency'>;

function quotaOf(f: AccountFigures): Quota {
  const q: Quota = {};
  if (f.quotaUsed !== undefined) q.quotaUsed = f.quotaUsed;
  if (f.quotaLimit !== undefined) q.quotaLimit = f.quotaLimit;
  if (f.quotaUsed !== undefined && f.quotaLimit) q.quotaUsedPercent = Math.round((f.quotaUsed / f.quotaLimit) * 1000) / 10;
  if (f.quotaResetAt !== undefined) q.quotaResetAt = new Date(f.quotaResetAt).toISOString();
  if (f.balance !== undefined) q.balance = f.balance;
  if (f.currency !== undefined) q.currency = f.currency;
  return q;
}

function carried(prev?: KeyHealth): Quota {
  if (!prev) return {};
  const { quotaUsed, quotaLimit, quotaUsedPercent, quotaResetAt, balance, currency } = prev;
  return Object.fromEntries(Object.entries({ quotaUsed, quotaLimit, quotaUsedPercent, quotaResetAt, balance, currency }).filter(([, x]) => x !== undefined));
}

/** One line per key per change of state (or of passing/failing): a key failing every minute logs once. */
function logChange(deps: ProbeDeps, vendor: VendorId, lease: KeyLease, v: Verdict, item: KeyHealth, did: KeyProbeReport['did'], prev?: KeyHealth): void {
  const fields = { vendor, key: lease.id, result: v.result, state: v.state, httpStatus: item.httpStatus };
  if (did === 'disabled') deps.log.warn('key disabled by probe', fields);
  if (did === 'reenabled') deps.log.info('key re-enabled by probe', fields);
  const changed = !prev || prev.state !== v.state || PASSING_RESULTS.has(prev.probeResult) !== v.passed;
  if (!changed) return;
  if (!v.passed) deps.log.warn('key probe failed', { ...fields, previous: prev?.probeResult ?? null });
  else if (prev) deps.log.info('key probe passed', { ...fields, previous: prev.probeResult });
}
