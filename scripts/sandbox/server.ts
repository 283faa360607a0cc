/**
 * The sandbox HTTP server: one node:http server, routed by path prefix to a vendor module
 * (/openai, /elevenlabs, /fal, /fal-queue, /kling), plus /files (generated media) and / (an index).
 *
 * Every vendor request goes through the same pipeline:
 *   record the call -> read the body -> authenticate (vendor-specific) -> route (404 if unknown)
 *   -> key state (invalid / quota) -> rate limit (routes marked `limited`) -> fault queue -> handler.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultQueues, type EndpointKind } from './faults';
import { serveFile } from './files';
import { RateLimiter, type LimitVerdict } from './limits';
import type { CallRecord, Fault, KeyRule, RateLimit, RetryHint, Vendor } from './types';

export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export const DEFAULT_LIMITS: Record<Vendor, RateLimit | null> = {
  openai: { calls: 3, windowMs: 20_000 },
  elevenlabs: { calls: 3, windowMs: 20_000 },
  fal: { calls: 3, windowMs: 20_000 },
  kling: { calls: 2, windowMs: 30_000 },
};

export const DEFAULT_HINTS: Record<Vendor, RetryHint> = {
  openai: 'seconds',
  elevenlabs: 'none',
  fal: 'none',
  kling: 'none',
};

/** Mutable state shared by all vendor modules. */
export class SandboxCore {
  readonly limiter: RateLimiter;
  readonly faults = new FaultQueues();
  readonly records: CallRecord[] = [];
  readonly rules = new Map<string, KeyRule>();
  /** Keys that are valid even when acceptUnknownKeys is false (defaults + configured). */
  readonly known = new Map<Vendor, Set<string>>();
  /** Kling access key -> secret key. */
  readonly klingSecrets = new Map<string, string>();
  readonly limits: Record<Vendor, RateLimit | null>;
  port = 0;
  /** Called once per vendor API call, when its response is finished or its socket closed. */
  onCall: ((record: CallRecord) => void) | undefined;
  private closing = false;
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  constructor(
    readonly host: string,
    readonly acceptUnknownKeys: boolean,
    readonly jobDurationMs: number,
    readonly now: () => number,
    limits: Partial<Record<Vendor, RateLimit | null>>,
  ) {
    this.limiter = new RateLimiter(now);
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** http://host:port, with a wildcard bind address replaced by loopback. */
  root(): string {
    const h = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}`;
  }

  ruleFor(vendor: Vendor, key: string): KeyRule {
    return this.rules.get(`${vendor}\u0000${key}`) ?? {};
  }

  setRule(vendor: Vendor, key: string, rule: KeyRule): void {
    this.rules.set(`${vendor}\u0000${key}`, { ...rule });
  }

  limitFor(vendor: Vendor, key: string): RateLimit | null {
    return this.ruleFor(vendor, key).rateLimit ?? this.limits[vendor];
  }

  hintFor(vendor: Vendor, key: string): RetryHint {
    return this.ruleFor(vendor, key).retryHint ?? DEFAULT_HINTS[vendor];
  }

  addKnown(vendor: Vendor, key: string): void {
    const set = this.known.get(vendor) ?? new Set<string>();
    set.add(key);
    this.known.set(vendor, set);
  }

  isKnown(vendor: Vendor, key: string): boolean {
    return this.known.get(vendor)?.has(key) ?? false;
  }

  /** Job progression: queued for the first 20 % of jobDurationMs, running until 100 %, then done. */
  jobPhase(createdAt: number): { phase: 'queued' | 'running' | 'done'; fraction: number } {
    const d = this.jobDurationMs;
    const elapsed = this.now() - createdAt;
    const fraction = d <= 0 ? 1 : Math.max(0, Math.min(1, elapsed / d));
    if (fraction >= 1) return { phase: 'done', fraction: 1 };
    return { phase: fraction < 0.2 ? 'queued' : 'running', fraction };
  }

  /** A timer that is cancelled (resolved early) when the sandbox closes. */
  sleep(ms: number): Promise<void> {
    if (this.closing || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      this.sleepers.add(entry);
    });
  }

  shutdown(): void {
    this.closing = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.done();
    }
    this.sleepers.clear();
  }

  get isClosing(): boolean {
    return this.closing;
  }
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; error: string };

export interface SendOptions {
  headers?: Record<string, string>;
  /** Omit Content-Length and send the body in several chunks (Transfer-Encoding: chunked). */
  chunked?: boolean;
}

/** One request/response, with the fault (if any) that the pipeline gave it. */
export class Exchange {
  /** Extra headers added to whatever response is sent (e.g. OpenAI x-ratelimit-*). */
  readonly headers: Record<string, string> = {};
  fault: Fault | undefined;
  limit: LimitVerdict | undefined;
  kind: EndpointKind = 'json';
  params: Record<string, string> = {};
  private bodyBuf: Buffer = Buffer.alloc(0);
  private sent = false;

  constructor(
    readonly core: SandboxCore,
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    readonly vendor: Vendor,
    readonly method: string,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly record: CallRecord,
    readonly requestIdHeader: string,
    readonly requestId: string,
  ) {}

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  get body(): Buffer {
    return this.bodyBuf;
  }

  /** Read the whole request body; false if it was too large (the caller answers 413). */
  async readBody(): Promise<boolean> {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    for await (const c of this.req) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c));
      size += b.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(b);
    }
    this.bodyBuf = Buffer.concat(chunks);
    return !tooBig;
  }

  json(): JsonResult {
    const text = this.bodyBuf.toString('utf8');
    if (text.trim() === '') return { ok: false, error: 'empty body' };
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }

  get answered(): boolean {
    return this.sent;
  }

  private get gone(): boolean {
    return this.res.destroyed || this.req.socket.destroyed;
  }

  /** Destroy the socket without answering (reset fault). */
  destroy(): void {
    if (this.sent) return;
    this.sent = true;
    this.record.status = 0;
    this.req.socket.destroy();
  }

  sendJson(status: number, body: unknown, opts: SendOptions = {}): void {
    this.send(status, Buffer.from(JSON.stringify(body)), 'application/json', opts);
  }

  /** Central writer: applies the request id header and the body-shaping faults. */
  send(status: number, body: Buffer, contentType: string, opts: SendOptions = {}): void {
    if (this.sent) return;
    this.sent = true;
    const headers: Record<string, string> = {
      [this.requestIdHeader]: this.requestId,
      ...this.headers,
      'content-type': contentType,
      ...(opts.headers ?? {}),
    };
    const fault = this.fault;
    const isJson = contentType.startsWith('application/json');
    const isAudio = contentType.startsWith('audio/');
    let payload = body;
    if (fault?.kind === 'malformed_json' && isJson) {
      status = 200;
      payload = Buffer.concat([body.subarray(0, Math.max(1, Math.floor(body.length / 2))), Buffer.from('\u0000<!-- upstream')]);
    }
    this.record.status = status;
    if (this.gone) return;
    if (fault?.kind === 'truncated_audio' && isAudio && status >= 200 && status < 300) {
      this.res.writeHead(status, { ...headers, 'content-length': String(payload.length) });
      this.res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => {
        setImmediate(() => this.req.socket.destroy());
      });
      return;
    }
    if (fault?.kind === 'slow_body') {
      this.res.writeHead(status, { ...headers, 'content-length': String(payload.length) });
      this.res.flushHeaders();
      void this.trickle(payload, fault.delayMs);
      return;
    }
    if (opts.chunked) {
      this.res.writeHead(status, headers);
      for (let i = 0; i < payload.length; i += 4096) this.res.write(payload.subarray(i, i + 4096));
      this.res.end();
      return;
    }
    this.res.writeHead(status, { ...headers, 'content-length': String(payload.length) });
    this.res.end(payload);
  }

  private async trickle(payload: Buffer, delayMs: number): Promise<void> {
    const parts = Math.max(1, Math.min(10, payload.length));
    const size = Math.ceil(payload.length / parts);
    for (let i = 0; i < parts; i++) {
      await this.core.sleep(delayMs / parts);
      if (this.gone) return;
      const piece = payload.subarray(i * size, (i + 1) * size);
      if (i === parts - 1) this.res.end(piece);
      else this.res.write(piece);
    }
  }
}

export interface Route {
  kind: EndpointKind;
  /** Counts against the key's rate limit. */
  limited: boolean;
  params: Record<string, string>;
  handle(ex: Exchange, key: string): void | Promise<void>;
}

export type AuthResult =
  /** `key`: the identity used for rules, limits, ownership and the call record. */
  | { ok: true; key: string }
  | { ok: false; key: string; reply: (ex: Exchange) => void };

export type ErrorFault = Extract<Fault, { kind: 'status' | 'system_busy' | 'concurrency' }>;

export interface VendorModule {
  readonly vendor: Vendor;
  readonly prefix: string;
  readonly requestIdHeader: string;
  newRequestId(): string;
  authenticate(ex: Exchange): AuthResult;
  match(method: string, path: string): Route | null;
  notFound(ex: Exchange): void;
  invalidKey(ex: Exchange, key: string): void;
  quota(ex: Exchange, key: string): void;
  rateLimited(ex: Exchange, key: string, verdict: LimitVerdict, hint: RetryHint): void;
  fault(ex: Exchange, fault: ErrorFault, key: string): void;
  /** Headers for admitted calls (OpenAI x-ratelimit-*). */
  admitted?(ex: Exchange, verdict: LimitVerdict): void;
  reset?(): void;
}

async function runPipeline(core: SandboxCore, mod: VendorModule, ex: Exchange): Promise<void> {
  if (!(await ex.readBody())) {
    ex.send(413, Buffer.from('Request Entity Too Large'), 'text/plain');
    return;
  }
  const auth = mod.authenticate(ex);
  ex.record.key = auth.key;
  const route = mod.match(ex.method, ex.path);
  if (!route) return mod.notFound(ex);
  ex.kind = route.kind;
  ex.params = route.params;
  if (!auth.ok) return auth.reply(ex);
  const key = auth.key;
  const rule = core.ruleFor(mod.vendor, key);
  if (rule.state === 'invalid') return mod.invalidKey(ex, key);
  if (rule.state === 'quota') return mod.quota(ex, key);
  if (route.limited) {
    const verdict = core.limiter.take(mod.vendor, key, core.limitFor(mod.vendor, key));
    if (!verdict.ok) return mod.rateLimited(ex, key, verdict, core.hintFor(mod.vendor, key));
    ex.limit = verdict;
    mod.admitted?.(ex, verdict);
  }
  const fault = core.faults.take(mod.vendor, route.kind);
  ex.fault = fault;
  if (fault) {
    switch (fault.kind) {
      case 'status':
      case 'system_busy':
      case 'concurrency':
        return mod.fault(ex, fault, key);
      case 'reset':
        return ex.destroy();
      case 'slow_headers':
        await core.sleep(fault.delayMs);
        break;
      default:
        break;
    }
  }
  await route.handle(ex, key);
}

export interface StartedServer {
  server: http.Server;
  port: number;
}

function indexPage(core: SandboxCore, modules: VendorModule[]): Record<string, unknown> {
  return {
    name: 'nanobot provider sandbox',
    bases: Object.fromEntries(modules.map((m) => [m.prefix.slice(1), `${core.root()}${m.prefix}`])),
    files: `${core.root()}/files`,
  };
}

export function createHttpServer(core: SandboxCore, modules: VendorModule[]): http.Server {
  // Longest prefix first so /fal-queue wins over /fal.
  const ordered = [...modules].sort((a, b) => b.prefix.length - a.prefix.length);
  const server = http.createServer((req, res) => {
    // Clients may vanish mid-answer (timeouts, resets): never let a late write crash the sandbox.
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    const pathname = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const mod = ordered.find((m) => pathname === m.prefix || pathname.startsWith(`${m.prefix}/`));
    if (!mod) {
      req.resume();
      if (pathname.startsWith('/files/') && (method === 'GET' || method === 'HEAD')) {
        const f = serveFile(pathname.slice('/files'.length), url.searchParams);
        res.writeHead(f.status, { 'content-type': f.contentType, 'content-length': String(f.body.length), 'cache-control': 'no-store' });
        res.end(method === 'HEAD' ? undefined : f.body);
        return;
      }
      const body = pathname === '/' ? indexPage(core, modules) : { error: 'not found', path: pathname };
      const buf = Buffer.from(JSON.stringify(body, null, 2));
      res.writeHead(pathname === '/' ? 200 : 404, { 'content-type': 'application/json', 'content-length': String(buf.length) });
      res.end(buf);
      return;
    }
    const path = pathname.slice(mod.prefix.length) || '/';
    const record: CallRecord = { vendor: mod.vendor, method, path, key: '', status: 0, at: core.now(), base: mod.prefix };
    core.records.push(record);
    res.once('close', () => {
      try {
        core.onCall?.(record);
      } catch {
        // an observer must not break the server
      }
    });
    const ex = new Exchange(core, req, res, mod.vendor, method, path, url.searchParams, record, mod.requestIdHeader, mod.newRequestId());
    runPipeline(core, mod, ex).catch((err: unknown) => {
      if (ex.answered) return;
      if (core.isClosing) {
        ex.destroy();
        return;
      }
      process.stderr.write(`[sandbox] ${mod.vendor} ${method} ${path} handler error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      mod.fault(ex, { kind: 'status', status: 500 }, record.key);
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
