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
import { bufferSource, type ByteSource } from './audio';
import { FaultQueues, type EndpointKind } from './faults';
import { serveFile } from './files';
import { RateLimiter, type LimitVerdict } from './limits';
import type { CallRecord, Fault, KeyRule, RateLimit, RetryHint, Timing, Vendor } from './types';

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

export const DEFAULT_FIRST_BYTE_MS = 300;
export const DEFAULT_SPEEDUP = 6;

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
  /** Keys revoked at runtime (`vendor\u0000key`). */
  readonly revoked = new Set<string>();
  /** Requests in flight per `vendor\u0000key`, on the routes that count. */
  readonly inflight = new Map<string, number>();
  /** ElevenLabs characters synthesised per key (reported by GET /v1/user/subscription). */
  readonly charactersUsed = new Map<string, number>();
  timing: Timing = 'fast';
  firstByteMs = DEFAULT_FIRST_BYTE_MS;
  speedup = DEFAULT_SPEEDUP;
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

  isRevoked(vendor: Vendor, key: string): boolean {
    return this.revoked.has(`${vendor}\u0000${key}`);
  }

  /** The key as configured (Kling: `ACCESS:SECRET`), for echo canaries. */
  configuredKey(vendor: Vendor, key: string): string {
    if (vendor !== 'kling') return key;
    const secret = this.klingSecrets.get(key);
    return secret === undefined ? key : `${key}:${secret}`;
  }

  /** Enter a request into the key's in-flight count; returns the count including it. */
  enter(vendor: Vendor, key: string, res: http.ServerResponse): number {
    const id = `${vendor}\u0000${key}`;
    const n = (this.inflight.get(id) ?? 0) + 1;
    this.inflight.set(id, n);
    res.once('close', () => {
      const left = (this.inflight.get(id) ?? 1) - 1;
      if (left <= 0) this.inflight.delete(id);
      else this.inflight.set(id, left);
    });
    return n;
  }

  inFlight(vendor: Vendor, key: string): number {
    return this.inflight.get(`${vendor}\u0000${key}`) ?? 0;
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

export interface StreamOptions {
  headers?: Record<string, string>;
  /** Bytes per second of audio: with timing 'realistic' the body is paced from it. */
  byteRate?: number;
}

interface Delivery {
  chunked: boolean;
  isAudio: boolean;
  byteRate?: number;
}

/** Header values must be latin-1 without control characters. */
export function headerSafe(v: string): string {
  return v.replace(/[^\x20-\x7e\x80-\xff]/g, '?');
}

/** One request/response, with the fault (if any) that the pipeline gave it. */
export class Exchange {
  /** Extra headers added to whatever response is sent (e.g. OpenAI x-ratelimit-*). */
  readonly headers: Record<string, string> = {};
  fault: Fault | undefined;
  limit: LimitVerdict | undefined;
  kind: EndpointKind = 'json';
  params: Record<string, string> = {};
  /** In-flight count of this key when this request entered (itself included), on routes that count. */
  inflight = 0;
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
    const headers = this.headersFor(contentType, opts.headers);
    const fault = this.fault;
    const isJson = contentType.startsWith('application/json');
    let payload = body;
    if (fault?.kind === 'malformed_json' && isJson) {
      status = 200;
      payload = Buffer.concat([body.subarray(0, Math.max(1, Math.floor(body.length / 2))), Buffer.from('\u0000<!-- upstream')]);
    }
    this.record.status = status;
    if (this.gone) return;
    this.launch(status, headers, bufferSource(payload), { chunked: opts.chunked === true, isAudio: contentType.startsWith('audio/') });
  }

  /** A chunked (audio) answer read lazily from `source`; paced like speech when timing is 'realistic'. */
  stream(status: number, source: ByteSource, contentType: string, opts: StreamOptions = {}): void {
    if (this.sent) return;
    this.sent = true;
    const headers = this.headersFor(contentType, opts.headers);
    this.record.status = status;
    if (this.gone) return;
    this.launch(status, headers, source, { chunked: true, isAudio: contentType.startsWith('audio/'), byteRate: opts.byteRate });
  }

  private headersFor(contentType: string, extra: Record<string, string> | undefined): Record<string, string> {
    return { [this.requestIdHeader]: this.requestId, ...this.headers, 'content-type': contentType, ...(extra ?? {}) };
  }

  private launch(status: number, headers: Record<string, string>, src: ByteSource, d: Delivery): void {
    this.res.once('finish', () => {
      this.record.lastByteAt = Date.now();
      this.record.firstByteAt ??= this.record.lastByteAt;
    });
    this.deliver(status, headers, src, d).catch(() => this.req.socket.destroy());
  }

  private noteWrite(bytes: number): void {
    const t = Date.now();
    this.record.firstByteAt ??= t;
    this.record.lastByteAt = t;
    this.record.bytesSent = (this.record.bytesSent ?? 0) + bytes;
  }

  private write(piece: Buffer, cb?: () => void): boolean {
    this.noteWrite(piece.length);
    return this.res.write(piece, cb);
  }

  /** Resolves on 'drain', or when the response is gone. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  private async deliver(status: number, headers: Record<string, string>, src: ByteSource, d: Delivery): Promise<void> {
    const fault = this.fault;
    const ok = status >= 200 && status < 300;
    const length = src.length;
    if (fault?.kind === 'truncated_audio' && d.isAudio && ok) {
      this.res.writeHead(status, { ...headers, 'content-length': String(length) });
      this.write(src.read(0, Math.floor(length / 2)), () => {
        setImmediate(() => this.req.socket.destroy());
      });
      return;
    }
    if (fault?.kind === 'slow_body') {
      this.res.writeHead(status, { ...headers, 'content-length': String(length) });
      this.res.flushHeaders();
      await this.trickle(src, fault.delayMs);
      return;
    }
    const cutAt = fault?.kind === 'midstream_reset' && ok ? Math.min(fault.afterBytes, length) : undefined;
    const paced = d.byteRate !== undefined && d.byteRate > 0 && this.core.timing === 'realistic';
    if (!d.chunked && !paced && cutAt === undefined) {
      this.res.writeHead(status, { ...headers, 'content-length': String(length) });
      const all = src.read(0, length);
      this.noteWrite(all.length);
      this.res.end(all);
      return;
    }
    const byteRate = d.byteRate ?? 0;
    const piece = paced ? Math.max(1024, Math.round(byteRate * 0.25)) : 16 * 1024;
    const wallRate = byteRate * this.core.speedup;
    const t0 = Date.now() + (paced ? this.core.firstByteMs : 0);
    const end = cutAt ?? length;
    this.res.statusCode = status;
    for (const [k, v] of Object.entries(d.chunked ? headers : { ...headers, 'content-length': String(length) })) this.res.setHeader(k, v);
    if (end === 0 && paced) await this.core.sleep(t0 - Date.now());
    const cut = (): void => {
      setImmediate(() => this.req.socket.destroy());
    };
    for (let at = 0; at < end; at += piece) {
      if (paced) await this.core.sleep(t0 + (at / wallRate) * 1000 - Date.now());
      if (this.gone) return;
      if (this.core.isClosing) {
        this.req.socket.destroy();
        return;
      }
      const last = at + piece >= end;
      if (!this.write(src.read(at, Math.min(piece, end - at)), last && cutAt !== undefined ? cut : undefined)) await this.drained();
    }
    if (this.gone) return;
    if (cutAt !== undefined) {
      if (end === 0) {
        this.res.flushHeaders();
        setTimeout(() => this.req.socket.destroy(), 20);
      }
      return;
    }
    this.res.end();
  }

  private async trickle(src: ByteSource, delayMs: number): Promise<void> {
    const parts = Math.max(1, Math.min(10, src.length));
    const size = Math.ceil(src.length / parts);
    for (let i = 0; i < parts; i++) {
      await this.core.sleep(delayMs / parts);
      if (this.gone) return;
      const piece = src.read(i * size, size);
      this.noteWrite(piece.length);
      if (i === parts - 1) this.res.end(piece);
      else this.res.write(piece);
    }
  }
}

export interface Route {
  kind: EndpointKind;
  /** Counts against the key's rate limit (and its in-flight concurrency). */
  limited: boolean;
  params: Record<string, string>;
  handle(ex: Exchange, key: string): void | Promise<void>;
  /** The scope/permission a restricted key needs for this route (KeyRule.restrict.missingScopes). */
  scope?: string;
  /** A free read-only account call: a key in state 'quota' is answered (the body shows it), not refused. */
  probe?: boolean;
  /** Can answer a `body_size` fault. */
  sizable?: boolean;
  /** A window of the route's own, apart from the key's main one (Kling /account/costs: 1 request/s). */
  ownLimit?: { limit: RateLimit; bucket: string };
}

export type AuthResult =
  /** `key`: the identity used for rules, limits, ownership and the call record. */
  | { ok: true; key: string }
  | { ok: false; key: string; reply: (ex: Exchange) => void };

export type ErrorFault = Extract<Fault, { kind: 'status' | 'system_busy' | 'concurrency' }>;
export type EchoFault = Extract<Fault, { kind: 'echo' }>;

/** The text of an echo fault with its placeholders filled in. */
export function echoText(fault: EchoFault, parts: { key: string; secret?: string; token?: string }): string {
  const key = parts.key;
  return (fault.text ?? '{key}')
    .replace(/\{key_head\}/g, key.slice(0, 8))
    .replace(/\{key_tail\}/g, key.slice(-4))
    .replace(/\{secret\}/g, parts.secret ?? '')
    .replace(/\{token\}/g, parts.token ?? key)
    .replace(/\{key\}/g, key);
}

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
  /** The echo-canary error answer. */
  echo(ex: Exchange, fault: EchoFault, key: string): void;
  /** A valid key without the route's scope (KeyRule.restrict). */
  missingScope?(ex: Exchange, key: string, scope: string, status: 401 | 403 | undefined): void;
  /** Over KeyRule.concurrency: `current` requests of the key already in flight. Vendors without it ignore the setting. */
  concurrencyLimited?(ex: Exchange, key: string, current: number, max: number): void;
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
  if (rule.state === 'invalid' || core.isRevoked(mod.vendor, key)) return mod.invalidKey(ex, key);
  if (rule.state === 'quota' && !route.probe) return mod.quota(ex, key);
  if (route.scope !== undefined && mod.missingScope && rule.restrict?.missingScopes?.includes(route.scope)) {
    return mod.missingScope(ex, key, route.scope, rule.restrict.scopeStatus);
  }
  if (route.limited && rule.concurrency !== undefined && mod.concurrencyLimited) {
    const current = core.inFlight(mod.vendor, key);
    if (current >= rule.concurrency) return mod.concurrencyLimited(ex, key, current, rule.concurrency);
  }
  if (route.limited) {
    const verdict = core.limiter.take(mod.vendor, key, core.limitFor(mod.vendor, key));
    if (!verdict.ok) return mod.rateLimited(ex, key, verdict, core.hintFor(mod.vendor, key));
    ex.limit = verdict;
    mod.admitted?.(ex, verdict);
    ex.inflight = core.enter(mod.vendor, key, ex.res);
  }
  if (route.ownLimit) {
    const verdict = core.limiter.take(mod.vendor, key, route.ownLimit.limit, route.ownLimit.bucket);
    if (!verdict.ok) return mod.rateLimited(ex, key, verdict, core.hintFor(mod.vendor, key));
  }
  const fault = core.faults.take(mod.vendor, { kind: route.kind, sizable: route.sizable === true, path: ex.path, key });
  ex.fault = fault;
  if (fault) {
    switch (fault.kind) {
      case 'status':
      case 'system_busy':
      case 'concurrency':
        return mod.fault(ex, fault, key);
      case 'echo':
        return mod.echo(ex, fault, key);
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
    const record: CallRecord = { vendor: mod.vendor, method, path, key: '', status: 0, at: core.now(), base: mod.prefix, startedAt: Date.now() };
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
