import { InvalidRequest, Log, MediaStream, RotationResult } from '../domain';
import type { FallbackConfig } from '../config/fallbacks';
import type { HealthStatus } from '../health/status';
import type { ProviderId } from '../providers/registry';

/** A media result and who served it: `provider` answered; `from` is the provider that could not (a fallback). */
export type Served = RotationResult<MediaStream> & { provider: ProviderId; from?: ProviderId };

/** A request as one provider runs it. */
export interface Candidate<R> {
  provider: ProviderId;
  model: string;
  req: R;
}

/**
 * Failures that mean the provider cannot serve, not that the request is wrong: no usable key, every
 * key cooling past the wait, attempts exhausted on provider errors. Never `upstream_rejected`
 * (the client's), `outcome_unknown` (it may have been charged) or `deadline_exceeded` (no time left).
 */
const TRIGGERS: ReadonlySet<string> = new Set(['no_usable_key', 'all_keys_cooling', 'upstream_failed']);

export interface FallbackDeps {
  clock: () => number;
  log: Log;
  /** The provider's STATUS item, as last read (undefined: not known). */
  status: (provider: ProviderId) => HealthStatus | undefined;
  /** A request fell back from `provider` (health's `fallbacks` counter, the `Fallbacks` metric). */
  fellBack: (provider: ProviderId, at: number) => void;
  /** While a provider is down, one request per this interval still tries it (recovery is seen). */
  retryDownMs: number;
}

/**
 * Fallback chains (off unless configured): the primary first; when it cannot serve (a trigger
 * above, or STATUS `down`), the next alternative of the chain that can take the request faithfully,
 * within the same deadline. Nothing falls back once an answer has begun: a result is returned
 * when its first byte is there, and a failure after it is the stream's.
 */
export class Fallbacks {
  private readonly lastTrial = new Map<ProviderId, number>();
  /** This instance's latest outcome per provider: a success after STATUS went down ends the skipping. */
  private readonly lastOk = new Map<ProviderId, number>();
  private readonly lastFailed = new Map<ProviderId, number>();

  constructor(private readonly config: FallbackConfig, private readonly deps: FallbackDeps) {}

  get voices() {
    return this.config.voices;
  }

  /**
   * The chain for a model, narrowed by the request's `x-nanobot-fallback` (`none`, or a comma list
   * that must be part of the configured chain: a client cannot add a provider).
   */
  chain(model: string, header?: string): string[] {
    const configured = this.config.chains[model] ?? [];
    const v = header?.trim();
    if (!v) return configured;
    if (v.toLowerCase() === 'none') return [];
    const asked = v.split(',').map((m) => m.trim()).filter((m) => m !== '');
    const outside = asked.find((m) => !configured.includes(m));
    if (outside !== undefined) {
      const allowed = configured.length ? configured.join(', ') : 'none configured';
      throw new InvalidRequest(`x-nanobot-fallback: ${outside} is not in the fallback chain of ${model} (${allowed}).`, 'x-nanobot-fallback', 'fallback_not_allowed');
    }
    return configured.filter((m) => asked.includes(m));
  }

  /** `gone`: the client went away (its request left the queue) — nothing more is tried for it. */
  async serve<R>(primary: Candidate<R>, chain: string[], deadline: number, map: (alt: string) => Candidate<R>, run: (c: Candidate<R>) => Promise<RotationResult<MediaStream>>, gone?: AbortSignal): Promise<Served> {
    let alts: Candidate<R>[] | undefined;
    const alternatives = () => (alts ??= this.mappable(primary, chain, map));
    let reason: string;
    let r: RotationResult<MediaStream> | undefined;
    let last = primary;
    let attempts = 0;
    if (chain.length > 0 && this.skipDown(primary.provider) && alternatives().length > 0) {
      reason = 'status_down';
    } else {
      r = await this.attempt(primary, run);
      if (r.ok || chain.length === 0 || !TRIGGERS.has(r.failure.kind) || gone?.aborted) return { ...r, provider: primary.provider };
      reason = r.failure.kind;
      attempts = r.attempts;
    }
    for (const alt of alternatives()) {
      if (this.deps.clock() >= deadline || gone?.aborted) break;
      this.noteFallback(last, reason, alt);
      r = await this.attempt(alt, run);
      attempts += r.attempts;
      last = alt;
      if (r.ok || !TRIGGERS.has(r.failure.kind)) break;
      reason = r.failure.kind;
    }
    r ??= await this.attempt(primary, run);
    return { ...r, attempts: Math.max(attempts, r.attempts), provider: last.provider, ...(last !== primary ? { from: primary.provider } : {}) };
  }

  private async attempt<R>(c: Candidate<R>, run: (c: Candidate<R>) => Promise<RotationResult<MediaStream>>) {
    const r = await run(c);
    if (r.ok) this.lastOk.set(c.provider, this.deps.clock());
    else if (TRIGGERS.has(r.failure.kind)) this.lastFailed.set(c.provider, this.deps.clock());
    return r;
  }

  /** The alternatives that can take the request faithfully (each target's own rules decide); the others are logged. */
  private mappable<R>(primary: Candidate<R>, chain: string[], map: (alt: string) => Candidate<R>): Candidate<R>[] {
    const out: Candidate<R>[] = [];
    for (const alt of chain) {
      try {
        out.push(map(alt));
      } catch (err) {
        if (!(err instanceof InvalidRequest)) throw err;
        this.deps.log.info('fallback not possible', { provider: primary.provider, model: primary.model, target: alt, reason: err.message });
      }
    }
    return out;
  }

  /**
   * STATUS `down`, and this instance has not seen the provider serve since it last failed here:
   * skipped, except for one request per `retryDownMs` that still tries it.
   */
  private skipDown(provider: ProviderId): boolean {
    if (this.deps.status(provider) !== 'down') return false;
    if ((this.lastOk.get(provider) ?? -Infinity) > (this.lastFailed.get(provider) ?? -Infinity)) return false;
    const now = this.deps.clock();
    if (now - (this.lastTrial.get(provider) ?? -Infinity) >= this.deps.retryDownMs) {
      this.lastTrial.set(provider, now);
      return false;
    }
    return true;
  }

  private noteFallback<R>(from: Candidate<R>, reason: string, to: Candidate<R>): void {
    const at = this.deps.clock();
    this.deps.fellBack(from.provider, at);
    this.deps.log.warn(`fell back from ${from.provider} to ${to.provider}`, { provider: from.provider, model: from.model, reason, target: to.provider, targetModel: to.model });
  }
}
