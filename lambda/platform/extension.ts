import type { Log } from '../domain';

/**
 * Post-response work on Lambda through an internal extension (Extensions API, in-process).
 *
 * Lambda returns the function's response to the caller as soon as the handler returns, but keeps
 * the environment running until every registered extension asks for its next event. So the
 * handler returns, the caller has its answer, and then this extension runs `afterInvoke` (the
 * health flush) before the environment freezes — no latency added, nothing left to a frozen
 * promise. Registering an extension also makes Lambda send SIGTERM to the runtime before
 * shutdown, which is when the last counters are written.
 *
 * Registration must happen during init: the ESM entry (`index.mts`) awaits `register` at top level.
 */
export interface InvokeEvent {
  eventType: 'INVOKE' | 'SHUTDOWN';
  requestId?: string;
  deadlineMs?: number;
}

const API = '2020-01-01/extension';
/** Post-response work stops this long before the invocation's deadline. */
const POST_RESPONSE_MARGIN_MS = 1_000;

export class PostResponseExtension {
  private readonly completed = new Set<string>();
  private readonly waiters = new Map<string, () => void>();
  private stopped = false;

  private constructor(
    private readonly base: string,
    private readonly id: string,
    private readonly afterInvoke: () => Promise<void>,
    private readonly log: Log,
  ) {}

  /** Registers for INVOKE events and starts the event loop; undefined (logged) when it cannot. */
  static async register(runtimeApi: string, name: string, afterInvoke: () => Promise<void>, log: Log): Promise<PostResponseExtension | undefined> {
    const base = `http://${runtimeApi}/${API}`;
    try {
      const res = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'Lambda-Extension-Name': name, 'content-type': 'application/json' },
        body: JSON.stringify({ events: ['INVOKE'] }),
      });
      const id = res.headers.get('lambda-extension-identifier');
      await res.arrayBuffer();
      if (!res.ok || !id) throw new Error(`register answered ${res.status}`);
      const ext = new PostResponseExtension(base, id, afterInvoke, log);
      void ext.loop();
      return ext;
    } catch (err) {
      log.warn('extension registration failed; health is flushed on the request path instead', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }

  /** The handler calls this once it has its response: the extension may now do its work. */
  invocationDone(requestId: string): void {
    const wake = this.waiters.get(requestId);
    if (wake) {
      this.waiters.delete(requestId);
      wake();
    } else {
      this.completed.add(requestId);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let event: InvokeEvent;
      try {
        const res = await fetch(`${this.base}/event/next`, { headers: { 'Lambda-Extension-Identifier': this.id } });
        event = (await res.json()) as InvokeEvent;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn('extension event loop error', { error: err instanceof Error ? err.message : String(err) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (event.eventType === 'SHUTDOWN') return;
      if (event.requestId) await this.finished(event.requestId, event.deadlineMs);
      try {
        // Post-response work must end before the invocation's deadline (it counts against the
        // function timeout): whatever is unfinished then goes on at the next invocation.
        const budget = event.deadlineMs ? event.deadlineMs - Date.now() - POST_RESPONSE_MARGIN_MS : undefined;
        let timer: NodeJS.Timeout | undefined;
        const cut = budget === undefined ? undefined : new Promise<'cut'>((r) => { timer = setTimeout(() => r('cut'), Math.max(0, budget)); });
        const outcome = await (cut ? Promise.race([this.afterInvoke(), cut]) : this.afterInvoke());
        if (timer) clearTimeout(timer);
        if (outcome === 'cut') this.log.warn('post-response work cut at the invocation deadline; it continues next time');
      } catch (err) {
        this.log.warn('post-response work failed', { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** Resolves when the handler reported this request done, or at its deadline. */
  private finished(requestId: string, deadlineMs?: number): Promise<void> {
    if (this.completed.delete(requestId)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = deadlineMs
        ? setTimeout(() => {
            this.waiters.delete(requestId);
            resolve();
          }, Math.max(0, deadlineMs - Date.now()))
        : undefined;
      timer?.unref();
      this.waiters.set(requestId, () => {
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  }
}
