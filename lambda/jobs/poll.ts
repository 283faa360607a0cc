import { Clock, JobAdapter, JobRecord, KeyCredential, Log, MalformedAnswer, PollResult, Transport, TransportError, UpstreamRequest } from '../domain';

export interface PollDeps {
  transport: Transport;
  clock: Clock;
  log: Log;
}

/**
 * What one poll learnt: the provider's state of the task; `absent` when the provider says it has
 * no such task (404) for the creating key; undefined when it could not say (serve the stored state).
 */
export type PollAnswer = PollResult | { absent: true } | undefined;

/**
 * One poll of a job with its creating key (one or two upstream requests: fal asks for the status,
 * then the result), within `budgetMs`. `counter.calls` counts the upstream requests made.
 */
export async function pollOnce(adapter: JobAdapter<unknown>, job: JobRecord, lease: KeyCredential, budgetMs: number, deps: PollDeps, counter: { calls: number }): Promise<PollAnswer> {
  const plan = adapter.poll(job, lease);
  const deadline = deps.clock() + budgetMs;
  const where = { jobId: job.id, provider: job.provider, key: job.keyId };
  let req: UpstreamRequest = await plan.first;
  for (let step = 0; step < 3; step++) {
    try {
      counter.calls += 1;
      const a = await deps.transport.send(req, Math.max(1, deadline - deps.clock()));
      // The vendor's classifier reads every poll answer, as it reads creation's (Kling: a token
      // complaint re-mints the token for the next poll).
      const c = plan.classify(a, Date.now());
      if (c.outcome === 'ok') {
        const r = plan.interpret(a.body, a.status);
        if ('next' in r) {
          req = r.next;
          continue;
        }
        return r;
      }
      if (a.status === 404) return { absent: true };
      // A refused result (fal answers the result of a failed generation with a 4xx/422) ends the job.
      if (step > 0 && a.status >= 400 && a.status < 500 && a.status !== 401 && a.status !== 429) {
        return { status: 'failed', error: { code: 'generation_failed', message: `The provider failed the generation (status ${a.status}).` } };
      }
      deps.log.warn('job poll answered an error; serving the stored state', { ...where, status: a.status, outcome: c.outcome, code: c.code });
      return undefined;
    } catch (err) {
      if (err instanceof TransportError || err instanceof MalformedAnswer) {
        deps.log.warn('job poll failed; serving the stored state', { ...where, error: err.message });
        return undefined;
      }
      throw err;
    }
  }
  return undefined;
}
