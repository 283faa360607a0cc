/**
 * Child processes for benchmarks: the sandbox, our gateway and Portkey each run in their own
 * process (as they would in service), so no server shares an event loop with the load generator.
 * Every child is started on loopback, is stopped by its own pid (never by name), and is killed
 * when the parent exits, whatever the reason.
 */
import { ChildProcess, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A free loopback port (bound, read, released: a small race, acceptable for loopback benches). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Collects a child's stdout/stderr: a bounded tail for diagnostics, plus a streaming scan for
 * forbidden strings (keys) that survives chunk boundaries.
 */
export class OutputScan {
  bytes = 0;
  lines = 0;
  private tail = '';
  private carry = '';
  private readonly maxNeedle: number;
  readonly found = new Set<string>();

  constructor(private readonly needles: readonly string[] = []) {
    this.maxNeedle = needles.reduce((m, n) => Math.max(m, n.length), 0);
  }

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.bytes += Buffer.byteLength(text);
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lines += 1;
    if (this.needles.length) {
      const hay = this.carry + text;
      for (const n of this.needles) if (hay.includes(n)) this.found.add(n);
      this.carry = hay.slice(Math.max(0, hay.length - this.maxNeedle));
    }
    this.tail = (this.tail + text).slice(-4000);
  }

  last(): string {
    return this.tail;
  }
}

type Message = { type: 'ready'; info: unknown } | { id: number; ok: boolean; result?: unknown; error?: string };

export interface TsChild<I> {
  pid: number;
  info: I;
  output: OutputScan;
  call<T = unknown>(cmd: string, ...args: unknown[]): Promise<T>;
  /** Asks the child to close cleanly; kills it if it has not exited within `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Forks a TypeScript entry (through tsx) that answers `{id, cmd, args}` messages and sends
 * `{type:'ready', info}` once it listens. `readyMs` bounds the wait for readiness.
 */
export interface ForkOptions {
  /** Strings to watch for in the child's output (keys). */
  needles?: readonly string[];
  readyMs?: number;
  /** Extra Node flags (e.g. `--cpu-prof`). BENCH_CHILD_NODE_FLAGS (space-separated) adds more. */
  execArgv?: string[];
}

export function forkTs<I>(entry: string, env: Record<string, string>, opts: ForkOptions = {}): Promise<TsChild<I>> {
  const needles = opts.needles ?? [];
  const readyMs = opts.readyMs ?? 30_000;
  const extra = (process.env.BENCH_CHILD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = fork(join(__dirname, entry), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', '--expose-gc', ...(opts.execArgv ?? []), ...extra],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_METRICS_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  live.add(child);
  const output = new OutputScan(needles);
  child.stdout?.on('data', (d: Buffer) => output.push(d));
  child.stderr?.on('data', (d: Buffer) => output.push(d));
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    live.delete(child);
    for (const w of waiting.values()) w.reject(new Error(`${entry} exited`));
    waiting.clear();
    resolve();
  }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} not ready within ${readyMs} ms: ${output.last()}`));
    }, readyMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${String(code)}) before ready: ${output.last()}`));
    });
    child.on('message', (raw) => {
      const m = raw as Message;
      if ('type' in m && m.type === 'ready') {
        clearTimeout(timer);
        resolve({
          pid: child.pid ?? -1,
          info: m.info as I,
          output,
          call<T>(cmd: string, ...args: unknown[]): Promise<T> {
            const id = ++seq;
            return new Promise<T>((res, rej) => {
              waiting.set(id, { resolve: res as (v: unknown) => void, reject: rej });
              child.send({ id, cmd, args });
            });
          },
          async close(graceMs = 10_000) {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const id = ++seq;
            child.send({ id, cmd: 'close', args: [] });
            const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
            await exited;
            clearTimeout(t);
          },
        });
        return;
      }
      if ('id' in m) {
        const w = waiting.get(m.id);
        if (!w) return;
        waiting.delete(m.id);
        if (m.ok) w.resolve(m.result);
        else w.reject(new Error(m.error ?? 'child error'));
      }
    });
  });
}

/** Child side: announce readiness and serve commands; `close` runs `onClose` then exits. */
export function serveParent(info: unknown, handlers: Record<string, (...args: unknown[]) => unknown>, onClose: () => Promise<void>): void {
  process.on('message', (raw) => {
    const m = raw as { id: number; cmd: string; args: unknown[] };
    if (m.cmd === 'close') {
      void onClose().finally(() => process.exit(0));
      return;
    }
    const h = handlers[m.cmd];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        return h(...m.args);
      })
      .then(
        (result) => process.send?.({ id: m.id, ok: true, result }),
        (err: unknown) => process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => void onClose().finally(() => process.exit(0)));
  process.send?.({ type: 'ready', info });
}

export interface PortkeyProcess {
  port: number;
  url: string;
  pid: number;
  output: OutputScan;
  close(): Promise<void>;
}

/**
 * Portkey AI Gateway (the npm package's own Node server) on a loopback port. It reads only
 * `--port=`; it is ready when it answers HTTP at all.
 */
export async function startPortkey(needles: readonly string[] = [], readyMs = 30_000): Promise<PortkeyProcess> {
  const port = await freePort();
  const script = join(ROOT, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const child = spawn(process.execPath, [script, `--port=${port}`, '--headless'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const output = new OutputScan(needles);
  child.stdout?.on('data', (d: Buffer) => output.push(d));
  child.stderr?.on('data', (d: Buffer) => output.push(d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    live.delete(child);
    resolve();
  }));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + readyMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portkey exited (${child.exitCode}): ${output.last()}`);
    try {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`portkey not ready within ${readyMs} ms: ${output.last()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    pid: child.pid ?? -1,
    output,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
