import { createHash, Hash, randomUUID } from 'node:crypto';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Lambda's Runtime API and Extensions API on loopback, holding a runtime to the
 * rules Lambda holds it to, and recording what each invoke produced.
 *
 * Rules enforced (sources: AWS's Runtime API and Extensions API documentation, the Runtime
 * Interface Emulator's rapi handlers, API Gateway's response-streaming documentation):
 * - `GET /2018-06-01/runtime/invocation/next` long-polls; the event comes with
 *   Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn and -Trace-Id. Calling it
 *   again before the current invoke has a result is an InvalidStateTransition (403).
 * - Buffered `POST …/invocation/{id}/response`: over 6 MiB + 100 bytes (6,291,556, the figure
 *   Lambda's own 413 names) the runtime gets 413 RequestEntityTooLarge and the invoke fails with
 *   `Function.ResponseSizeTooLarge` (API Gateway answers its client 502).
 * - Streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked): accepted up
 *   to 200 MiB; a runtime error after the first byte arrives in the Lambda-Runtime-Function-Error-
 *   Type / -Body trailers. With content type `application/vnd.awslambda.http-integration-response`
 *   the stream is a JSON prelude (statusCode, headers, multiValueHeaders, cookies), 8 NUL bytes,
 *   then the body; the prelude must end within the first 16 KiB.
 * - `…/invocation/{id}/error` and `/runtime/init/error`; an unknown request id is 400
 *   InvalidRequestID, a second result for the same invoke 403 InvalidStateTransition.
 * - Extensions: `register` only during init (before the runtime's first `next`), a name is
 *   required and unique, internal extensions may subscribe to INVOKE only (SHUTDOWN is for
 *   external ones: name them in `externalExtensions`). `event/next` needs the identifier.
 * - The next invoke is delivered only once the previous one is complete: the runtime has posted
 *   its result AND every extension subscribed to INVOKE has called `event/next` again. The first
 *   invoke waits for init to end the same way (runtime and every extension at `next`).
 * - At the deadline an unfinished invoke fails with Sandbox.Timedout (`onTimeout` is told, so the
 *   driver can end the environment, as Lambda does).
 * - `shutdown()` sends SHUTDOWN to the extensions subscribed to it.
 */

export const RUNTIME_API = '/2018-06-01/runtime';
export const EXTENSION_API = '/2020-01-01/extension';
/** Lambda's buffered (synchronous) response limit, as its 413 states it: 6 MiB + 100 bytes. */
export const BUFFERED_RESPONSE_LIMIT = 6 * 1024 * 1024 + 100;
/** Lambda's streamed response limit (raised from 20 MB to 200 MB in July 2025). */
export const STREAMED_RESPONSE_LIMIT = 200 * 1024 * 1024;
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** API Gateway reads the prelude and its delimiter from the first 16 KB of the stream. */
export const PRELUDE_LIMIT = 16 * 1024;
const DELIMITER = Buffer.alloc(8);

export type InvokeStatus = 'queued' | 'delivered' | 'success' | 'error';

/** What API Gateway REST (Lambda proxy) would answer its client for this invoke. */
export interface GatewayView {
  statusCode: number;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  cookies: string[];
  /** The body bytes the client would get (undefined when only the hash was kept). */
  body?: Buffer;
  bodySize: number;
  bodySha256: string;
  /** Why API Gateway would answer 502 here, when it would. */
  problem?: string;
}

export interface ExtensionMark {
  /** When the INVOKE event for this invoke was handed to the extension (ms, stand-in clock). */
  eventAt?: number;
  /** When the extension next called `event/next` after that: it is done with this invoke. */
  nextAt?: number;
}

export interface InvokeRecord {
  requestId: string;
  event: unknown;
  deadlineMs: number;
  traceId: string;
  status: InvokeStatus;
  /** ms on the stand-in's clock (performance.now()). */
  queuedAt: number;
  deliveredAt?: number;
  /** When the runtime's /response or /error request arrived (its headers). */
  resultRequestAt?: number;
  /** First byte of the runtime's /response body. */
  firstResponseByteAt?: number;
  /**
   * When API Gateway could send its client the first body byte: streamed, the first byte after
   * the prelude; buffered, only once the whole response is in.
   */
  firstBodyByteAt?: number;
  /** When the result was final (response fully read, or error posted). */
  completedAt?: number;
  /** When the invoke phase ended: result final and every INVOKE extension back at `next`. */
  phaseEndedAt?: number;
  mode?: 'buffered' | 'streamed';
  /** Headers of the runtime's /response or /error request. */
  requestHeaders?: IncomingHttpHeaders;
  /** Trailers of a streamed response. */
  trailers?: NodeJS.Dict<string>;
  contentType?: string;
  /** The raw payload the runtime sent (for http-integration streams: prelude, delimiter and body). */
  payloadSize: number;
  payloadSha256?: string;
  payload?: Buffer;
  /** Set on error: Lambda's error type (Function.ResponseSizeTooLarge, Runtime.*, Sandbox.Timedout…). */
  errorType?: string;
  errorMessage?: string;
  errorBody?: unknown;
  /** What the stand-in answered the runtime's /response or /error call. */
  runtimeAnswer?: { status: number; body: unknown };
  extensions: Record<string, ExtensionMark>;
  gateway?: GatewayView;
  /** Resolves when the result is final. */
  result: Promise<InvokeRecord>;
  /** Resolves when the invoke phase has ended (extensions included). */
  phaseEnded: Promise<InvokeRecord>;
}

export interface ExtensionRecord {
  id: string;
  name: string;
  events: string[];
  external: boolean;
  registeredAt: number;
  /** Every `event/next` call (ms). */
  nextCalls: number[];
  shutdownDeliveredAt?: number;
}

export interface Rejection {
  at: number;
  method: string;
  path: string;
  status: number;
  errorType: string;
  errorMessage: string;
}

export interface RuntimeApiOptions {
  functionName?: string;
  functionVersion?: string;
  handler?: string;
  region?: string;
  accountId?: string;
  /** Function timeout: each invoke's deadline is delivery + this (default 30 s, as the stack sets). */
  timeoutMs?: number;
  /** Extension names treated as external (may subscribe to SHUTDOWN). */
  externalExtensions?: string[];
  /** Keep response bytes up to this size in records; larger ones keep only size and sha256 (default 16 MiB). */
  keepBodyBytes?: number;
  limits?: { bufferedBytes?: number; streamedBytes?: number };
  /** Called when an invoke passes its deadline: Lambda would end the environment. */
  onTimeout?: (invoke: InvokeRecord) => void;
}

export interface InitError {
  at: number;
  errorType?: string;
  body: unknown;
}

interface Pending {
  record: InvokeRecord;
  resolveResult: (r: InvokeRecord) => void;
  resolvePhase: (r: InvokeRecord) => void;
  timer?: NodeJS.Timeout;
}

interface Ext extends ExtensionRecord {
  parked?: ServerResponse;
  /** Still owes a `next` for the current invoke (or for init). */
  owes: boolean;
}

const now = (): number => performance.now();

export class RuntimeApiStandIn {
  readonly invokes: InvokeRecord[] = [];
  readonly rejections: Rejection[] = [];
  readonly initErrors: InitError[] = [];
  /** Every runtime `invocation/next` call (ms, stand-in clock). */
  readonly runtimeNextAt: number[] = [];
  private readonly server: Server;
  private readonly queue: Pending[] = [];
  private readonly byId = new Map<string, Pending>();
  private readonly exts = new Map<string, Ext>();
  private current?: Pending;
  private runtimeParked?: ServerResponse;
  private runtimeNextCalls = 0;
  private initEndedAt?: number;
  private closed = false;
  private readonly opts: Required<Omit<RuntimeApiOptions, 'onTimeout' | 'limits'>> & { limits: { bufferedBytes: number; streamedBytes: number }; onTimeout?: (i: InvokeRecord) => void };
  private idleWaiters: (() => void)[] = [];

  constructor(options: RuntimeApiOptions = {}) {
    this.opts = {
      functionName: options.functionName ?? 'nanobot',
      functionVersion: options.functionVersion ?? '$LATEST',
      handler: options.handler ?? 'index.handler',
      region: options.region ?? 'us-east-1',
      accountId: options.accountId ?? '123456789012',
      timeoutMs: options.timeoutMs ?? 30_000,
      externalExtensions: options.externalExtensions ?? [],
      keepBodyBytes: options.keepBodyBytes ?? 16 * 1024 * 1024,
      limits: { bufferedBytes: options.limits?.bufferedBytes ?? BUFFERED_RESPONSE_LIMIT, streamedBytes: options.limits?.streamedBytes ?? STREAMED_RESPONSE_LIMIT },
      onTimeout: options.onTimeout,
    };
    this.server = createServer((req, res) => this.route(req, res));
    // Long polls must never be cut by the server's own time-outs.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 0;
    this.server.keepAliveTimeout = 60_000;
  }

  get functionArn(): string {
    return `arn:aws:lambda:${this.opts.region}:${this.opts.accountId}:function:${this.opts.functionName}`;
  }

  /** host:port, the value of AWS_LAMBDA_RUNTIME_API. */
  address = '';

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.address;
  }

  get extensions(): ExtensionRecord[] {
    return [...this.exts.values()].map(({ parked: _p, owes: _o, ...rest }) => ({ ...rest, nextCalls: [...rest.nextCalls] }));
  }

  /** The runtime has called `next` at least once and every extension is at `next`: init is over. */
  get initEnded(): boolean {
    return this.initEndedAt !== undefined;
  }

  /**
   * Queues an invoke; it is delivered when Lambda's rules allow. Resolves with the record once
   * the result is final (the invoke phase may still be running: see `phaseEnded`).
   */
  invoke(event: unknown, opts: { requestId?: string; traceId?: string } = {}): Promise<InvokeRecord> {
    if (this.closed) throw new Error('the Runtime API stand-in is closed');
    const requestId = opts.requestId ?? randomUUID();
    let resolveResult!: (r: InvokeRecord) => void;
    let resolvePhase!: (r: InvokeRecord) => void;
    const record: InvokeRecord = {
      requestId,
      event,
      deadlineMs: 0,
      traceId: opts.traceId ?? `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Parent=${randomUUID().replace(/-/g, '').slice(0, 16)};Sampled=0;Lineage=1:0:0`,
      status: 'queued',
      queuedAt: now(),
      payloadSize: 0,
      extensions: {},
      result: new Promise<InvokeRecord>((r) => (resolveResult = r)),
      phaseEnded: new Promise<InvokeRecord>((r) => (resolvePhase = r)),
    };
    const pending: Pending = { record, resolveResult, resolvePhase };
    this.invokes.push(record);
    this.byId.set(requestId, pending);
    this.queue.push(pending);
    this.pump();
    return record.result;
  }

  /** Resolves when no invoke is queued or running (the last invoke phase has ended). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** The runtime process is gone: a running invoke fails as Lambda reports it. */
  runtimeExited(description: string): void {
    const p = this.current;
    if (p && !isFinal(p.record)) this.fail(p, 'Runtime.ExitError', `RequestId: ${p.record.requestId} Error: Runtime exited ${description}`);
    this.runtimeParked = undefined;
  }

  /**
   * Shutdown: SHUTDOWN to every extension subscribed to it (reason and deadline as Lambda sends
   * them). INVOKE-only extensions get nothing: the driver then signals the process.
   */
  shutdown(reason: 'spindown' | 'timeout' | 'failure' = 'spindown', graceMs = 2_000): void {
    const deadlineMs = Date.now() + graceMs;
    for (const ext of this.exts.values()) {
      if (!ext.events.includes('SHUTDOWN') || !ext.parked) continue;
      const res = ext.parked;
      ext.parked = undefined;
      ext.shutdownDeliveredAt = now();
      sendJson(res, 200, { eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs }, { 'Lambda-Extension-Event-Identifier': randomUUID() });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.queue, ...(this.current ? [this.current] : [])]) {
      if (p.timer) clearTimeout(p.timer);
      if (!isFinal(p.record)) this.fail(p, 'Sandbox.Closed', 'the Runtime API stand-in was closed');
      p.resolvePhase(p.record);
    }
    this.queue.length = 0;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- routing ----------------------------------------------------------------------------

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://runtime');
    const p = url.pathname;
    const m = req.method ?? 'GET';
    if (m === 'GET' && p === `${RUNTIME_API}/invocation/next`) return this.runtimeNext(req, res);
    const inv = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(p);
    if (m === 'POST' && inv) {
      const id = decodeURIComponent(inv[1]);
      return inv[2] === 'response' ? this.invocationResponse(id, req, res) : this.invocationError(id, req, res);
    }
    if (m === 'POST' && p === `${RUNTIME_API}/init/error`) return this.initError(req, res);
    if (m === 'POST' && p === `${EXTENSION_API}/register`) return this.register(req, res);
    if (m === 'GET' && p === `${EXTENSION_API}/event/next`) return this.extensionNext(req, res);
    req.resume();
    this.reject(req, res, 404, 'InvalidRequest', `no such Runtime API route: ${m} ${p}`);
  }

  private reject(req: IncomingMessage, res: ServerResponse, status: number, errorType: string, errorMessage: string): void {
    this.rejections.push({ at: now(), method: req.method ?? '', path: req.url ?? '', status, errorType, errorMessage });
    sendJson(res, status, { errorMessage, errorType });
  }

  // ---- Runtime API ------------------------------------------------------------------------

  private runtimeNext(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (this.current && !isFinal(this.current.record)) {
      return this.reject(req, res, 403, 'InvalidStateTransition', 'State transition from Invoking to Ready failed for runtime. Error: the current invoke has no result yet');
    }
    if (this.runtimeParked) {
      return this.reject(req, res, 403, 'InvalidStateTransition', 'State transition from Ready to Ready failed for runtime. Error: next is already pending');
    }
    this.runtimeNextCalls += 1;
    this.runtimeNextAt.push(now());
    this.runtimeParked = res;
    res.on('close', () => {
      if (this.runtimeParked === res && !res.writableEnded) this.runtimeParked = undefined;
    });
    this.pump();
  }

  private invocationResponse(id: string, req: IncomingMessage, res: ServerResponse): void {
    const p = this.checkResultTarget(id, req, res);
    if (!p) return;
    const r = p.record;
    const streamed = String(req.headers['lambda-runtime-function-response-mode'] ?? '').toLowerCase() === 'streaming';
    r.mode = streamed ? 'streamed' : 'buffered';
    r.requestHeaders = req.headers;
    r.contentType = req.headers['content-type'];
    const limit = streamed ? this.opts.limits.streamedBytes : this.opts.limits.bufferedBytes;
    const keep = this.opts.keepBodyBytes;
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    const prelude = streamed && r.contentType?.split(';')[0].trim().toLowerCase() === HTTP_INTEGRATION_CONTENT_TYPE ? new PreludeReader() : undefined;
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      const t = now();
      r.firstResponseByteAt ??= t;
      size += chunk.length;
      if (size > limit) over = true;
      if (over) return; // keep draining: the runtime is told once it has sent everything
      hash.update(chunk);
      if (size <= keep) chunks.push(chunk);
      if (prelude) {
        prelude.push(chunk, t);
        if (streamed && prelude.bodyStartedAt !== undefined) r.firstBodyByteAt ??= prelude.bodyStartedAt;
      } else if (streamed) r.firstBodyByteAt ??= t;
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      r.payloadSize = size;
      if (over) {
        const answer = { errorMessage: `Exceeded maximum allowed payload size (${limit} bytes).`, errorType: 'RequestEntityTooLarge' };
        this.fail(p, 'Function.ResponseSizeTooLarge', `Response payload size (${size} bytes) exceeded maximum allowed payload size (${limit} bytes).`);
        r.runtimeAnswer = { status: 413, body: answer };
        this.rejections.push({ at: now(), method: 'POST', path: req.url ?? '', status: 413, ...answer });
        sendJson(res, 413, answer);
        this.settled(p);
        return;
      }
      r.payloadSha256 = hash.digest('hex');
      if (size <= keep) r.payload = Buffer.concat(chunks);
      const trailers = req.trailers as NodeJS.Dict<string>;
      if (streamed) r.trailers = trailers;
      const trailerError = streamed ? trailers['lambda-runtime-function-error-type'] : undefined;
      if (trailerError) {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.from(trailers['lambda-runtime-function-error-body'] ?? '', 'base64').toString('utf8'));
        } catch {
          body = trailers['lambda-runtime-function-error-body'];
        }
        this.fail(p, trailerError, (body as { errorMessage?: string } | undefined)?.errorMessage ?? trailerError, body);
      } else {
        r.status = 'success';
        r.completedAt = now();
        if (!streamed) r.firstBodyByteAt = r.completedAt;
        r.gateway = streamed ? streamedGatewayView(r, prelude, keep) : bufferedGatewayView(r.payload, size, r.payloadSha256);
      }
      r.runtimeAnswer = { status: 202, body: { status: 'OK' } };
      sendJson(res, 202, { status: 'OK' });
      this.settled(p);
    });
  }

  private invocationError(id: string, req: IncomingMessage, res: ServerResponse): void {
    const p = this.checkResultTarget(id, req, res);
    if (!p) return;
    readAll(req).then((buf) => {
      let body: unknown;
      try {
        body = JSON.parse(buf.toString('utf8'));
      } catch {
        body = buf.toString('utf8');
      }
      const headerType = req.headers['lambda-runtime-function-error-type'];
      const errorType = (typeof headerType === 'string' && headerType) || (body as { errorType?: string })?.errorType || 'Unhandled';
      p.record.requestHeaders = req.headers;
      this.fail(p, errorType, (body as { errorMessage?: string })?.errorMessage ?? '', body);
      p.record.runtimeAnswer = { status: 202, body: { status: 'OK' } };
      sendJson(res, 202, { status: 'OK' });
      this.settled(p);
    }, () => undefined);
  }

  private initError(req: IncomingMessage, res: ServerResponse): void {
    readAll(req).then((buf) => {
      let body: unknown;
      try {
        body = JSON.parse(buf.toString('utf8'));
      } catch {
        body = buf.toString('utf8');
      }
      const errorType = req.headers['lambda-runtime-function-error-type'] as string | undefined;
      this.initErrors.push({ at: now(), errorType, body });
      sendJson(res, 202, { status: 'OK' });
      // Lambda answers the invoke that was waiting for this environment with the init error.
      const p = this.current ?? this.queue.shift();
      if (p && !isFinal(p.record)) {
        this.current = p;
        this.fail(p, errorType ?? 'Runtime.Unknown', (body as { errorMessage?: string })?.errorMessage ?? 'init failed', body);
        this.settled(p);
      }
    }, () => undefined);
  }

  /** The invoke a /response or /error names, if the runtime may post its result now. */
  private checkResultTarget(id: string, req: IncomingMessage, res: ServerResponse): Pending | undefined {
    const at = now();
    const p = this.byId.get(id);
    if (!p || p.record.status === 'queued') {
      req.resume();
      this.reject(req, res, 400, 'InvalidRequestID', 'Invalid request ID');
      return undefined;
    }
    if (isFinal(p.record) || p.record.mode !== undefined) {
      req.resume();
      this.reject(req, res, 403, 'InvalidStateTransition', `State transition from ResponseSent to InvocationResponse failed for runtime. Error: a result for ${id} was already posted`);
      return undefined;
    }
    p.record.resultRequestAt = at;
    return p;
  }

  private fail(p: Pending, errorType: string, errorMessage: string, body?: unknown): void {
    const r = p.record;
    r.status = 'error';
    r.errorType = errorType;
    r.errorMessage = errorMessage;
    r.errorBody = body ?? { errorType, errorMessage };
    r.completedAt ??= now();
    r.gateway = { statusCode: 502, headers: { 'content-type': 'application/json' }, multiValueHeaders: {}, cookies: [], ...bodyOf(Buffer.from('{"message": "Internal server error"}')), problem: `function error ${errorType}` };
    p.resolveResult(r);
  }

  private settled(p: Pending): void {
    if (p.record.status === 'success') p.resolveResult(p.record);
    this.pump();
  }

  // ---- Extensions API ---------------------------------------------------------------------

  private register(req: IncomingMessage, res: ServerResponse): void {
    readAll(req).then((buf) => {
      const name = req.headers['lambda-extension-name'];
      if (typeof name !== 'string' || name === '') return this.reject(req, res, 403, 'Extension.InvalidExtensionName', 'Empty extension name');
      let events: string[];
      try {
        const body = JSON.parse(buf.toString('utf8')) as { events?: unknown };
        events = Array.isArray(body.events) ? body.events.map(String) : [];
      } catch (err) {
        return this.reject(req, res, 403, 'InvalidRequestFormat', (err as Error).message);
      }
      const external = this.opts.externalExtensions.includes(name);
      for (const e of events) {
        if (e !== 'INVOKE' && e !== 'SHUTDOWN') return this.reject(req, res, 403, 'Extension.InvalidEventType', `${e}: unknown event`);
        if (e === 'SHUTDOWN' && !external) return this.reject(req, res, 403, 'Extension.InvalidEventType', `${e}: internal extensions cannot subscribe to SHUTDOWN`);
      }
      if (this.runtimeNextCalls > 0) return this.reject(req, res, 403, 'Extension.RegistrationClosed', 'Extension registration closed already');
      if ([...this.exts.values()].some((x) => x.name === name)) return this.reject(req, res, 403, 'Extension.InvalidExtensionState', 'Extension with this name already registered');
      const id = randomUUID();
      this.exts.set(id, { id, name, events, external, registeredAt: now(), nextCalls: [], owes: true });
      sendJson(res, 200, { functionName: this.opts.functionName, functionVersion: this.opts.functionVersion, handler: this.opts.handler }, { 'Lambda-Extension-Identifier': id });
    }, () => undefined);
  }

  private extensionNext(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const id = req.headers['lambda-extension-identifier'];
    if (typeof id !== 'string' || id === '') return this.reject(req, res, 403, 'Extension.MissingExtensionIdentifier', 'Missing Lambda-Extension-Identifier header');
    const ext = this.exts.get(id);
    if (!ext) return this.reject(req, res, 403, 'Extension.UnknownExtensionIdentifier', `Unknown extension ${id}`);
    if (ext.parked) return this.reject(req, res, 403, 'Extension.InvalidExtensionState', `State transition from Ready to Ready failed for extension ${ext.name}. Error: next is already pending`);
    const t = now();
    ext.nextCalls.push(t);
    ext.parked = res;
    res.on('close', () => {
      if (ext.parked === res && !res.writableEnded) ext.parked = undefined;
    });
    if (ext.owes) {
      ext.owes = false;
      const cur = this.current?.record;
      const mark = cur?.extensions[ext.name];
      if (mark && mark.nextAt === undefined) mark.nextAt = t;
    }
    this.pump();
  }

  // ---- the state machine ------------------------------------------------------------------

  private extensionsReady(): boolean {
    return [...this.exts.values()].every((x) => !x.owes && x.parked !== undefined);
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && (!this.current || this.current.record.phaseEndedAt !== undefined);
  }

  /** Moves the state machine on: ends init or the current invoke phase, delivers the next invoke. */
  private pump(): void {
    if (this.closed) return;
    if (this.initEndedAt === undefined) {
      if (this.runtimeNextCalls > 0 && this.extensionsReady()) this.initEndedAt = now();
      else return;
    }
    const cur = this.current;
    if (cur && cur.record.phaseEndedAt === undefined) {
      const owing = [...this.exts.values()].some((x) => x.owes);
      if (!isFinal(cur.record) || owing) return;
      if (cur.timer) clearTimeout(cur.timer);
      cur.record.phaseEndedAt = now();
      cur.resolvePhase(cur.record);
    }
    if (this.isIdle()) {
      const waiters = this.idleWaiters.splice(0);
      for (const w of waiters) w();
    }
    if (!this.runtimeParked || this.queue.length === 0) return;
    // Every INVOKE subscriber must be parked at `next` to receive the event.
    if ([...this.exts.values()].some((x) => x.events.includes('INVOKE') && !x.parked)) return;
    const next = this.queue.shift()!;
    this.deliver(next);
  }

  private deliver(p: Pending): void {
    const r = p.record;
    const res = this.runtimeParked!;
    this.runtimeParked = undefined;
    this.current = p;
    r.deadlineMs = Date.now() + this.opts.timeoutMs;
    r.status = 'delivered';
    r.deliveredAt = now();
    const body = JSON.stringify(r.event);
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Lambda-Runtime-Aws-Request-Id': r.requestId,
      'Lambda-Runtime-Deadline-Ms': String(r.deadlineMs),
      'Lambda-Runtime-Invoked-Function-Arn': this.functionArn,
      'Lambda-Runtime-Trace-Id': r.traceId,
    });
    res.end(body);
    for (const ext of this.exts.values()) {
      if (!ext.events.includes('INVOKE')) continue;
      const er = ext.parked!;
      ext.parked = undefined;
      ext.owes = true;
      r.extensions[ext.name] = { eventAt: now() };
      sendJson(
        er,
        200,
        { eventType: 'INVOKE', deadlineMs: r.deadlineMs, requestId: r.requestId, invokedFunctionArn: this.functionArn, tracing: { type: 'X-Amzn-Trace-Id', value: r.traceId } },
        { 'Lambda-Extension-Event-Identifier': randomUUID() },
      );
    }
    p.timer = setTimeout(() => {
      if (r.phaseEndedAt !== undefined) return;
      if (!isFinal(r)) this.fail(p, 'Sandbox.Timedout', `RequestId: ${r.requestId} Error: Task timed out after ${(this.opts.timeoutMs / 1000).toFixed(2)} seconds`);
      this.opts.onTimeout?.(r);
    }, this.opts.timeoutMs);
    p.timer.unref();
  }
}

function isFinal(r: InvokeRecord): boolean {
  return r.status === 'success' || r.status === 'error';
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function bodyOf(body: Buffer): { body: Buffer; bodySize: number; bodySha256: string } {
  return { body, bodySize: body.length, bodySha256: createHash('sha256').update(body).digest('hex') };
}

/**
 * Reads the http-integration prelude off the front of a stream: JSON, then 8 NUL bytes, within
 * the first 16 KiB; everything after is the body (hashed, and kept up to a size).
 */
class PreludeReader {
  private head: Buffer[] = [];
  private headSize = 0;
  prelude?: Record<string, unknown>;
  problem?: string;
  bodyStartedAt?: number;
  bodySize = 0;
  private readonly bodyHash: Hash = createHash('sha256');
  private bodyChunks: Buffer[] = [];

  push(chunk: Buffer, t: number): void {
    if (this.problem) return;
    if (this.prelude) return this.body(chunk, t);
    this.head.push(chunk);
    this.headSize += chunk.length;
    const head = Buffer.concat(this.head);
    const at = head.indexOf(DELIMITER);
    if (at < 0) {
      if (this.headSize > PRELUDE_LIMIT) this.problem = `no prelude delimiter within the first ${PRELUDE_LIMIT} bytes`;
      return;
    }
    if (at > PRELUDE_LIMIT) {
      this.problem = `prelude longer than ${PRELUDE_LIMIT} bytes`;
      return;
    }
    try {
      const parsed = JSON.parse(head.subarray(0, at).toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('prelude is not a JSON object');
      this.prelude = parsed as Record<string, unknown>;
    } catch (err) {
      this.problem = `malformed prelude: ${(err as Error).message}`;
      return;
    }
    this.head = [];
    const rest = head.subarray(at + DELIMITER.length);
    if (rest.length) this.body(rest, t);
  }

  private body(chunk: Buffer, t: number): void {
    this.bodyStartedAt ??= t;
    this.bodySize += chunk.length;
    this.bodyHash.update(chunk);
    this.bodyChunks.push(chunk);
  }

  finish(keep: number): { body?: Buffer; bodySize: number; bodySha256: string } {
    return { body: this.bodySize <= keep ? Buffer.concat(this.bodyChunks) : undefined, bodySize: this.bodySize, bodySha256: this.bodyHash.digest('hex') };
  }
}

function streamedGatewayView(r: InvokeRecord, prelude: PreludeReader | undefined, keep: number): GatewayView {
  if (!prelude) {
    return { statusCode: 502, headers: {}, multiValueHeaders: {}, cookies: [], ...bodyOf(Buffer.alloc(0)), problem: `streamed without the ${HTTP_INTEGRATION_CONTENT_TYPE} content type (${r.contentType ?? 'none'})` };
  }
  if (!prelude.prelude) {
    return { statusCode: 502, headers: {}, multiValueHeaders: {}, cookies: [], ...bodyOf(Buffer.alloc(0)), problem: prelude.problem ?? 'stream ended before the prelude delimiter' };
  }
  const p = prelude.prelude;
  const body = prelude.finish(keep);
  return {
    statusCode: typeof p.statusCode === 'number' ? p.statusCode : 200,
    headers: lowerKeys(stringRecord(p.headers)),
    multiValueHeaders: lowerKeys(stringListRecord(p.multiValueHeaders)),
    cookies: Array.isArray(p.cookies) ? p.cookies.map(String) : [],
    ...body,
  };
}

/** API Gateway's reading of a buffered Lambda proxy result (payload v1). */
function bufferedGatewayView(payload: Buffer | undefined, size: number, sha: string | undefined): GatewayView {
  const bad = (problem: string): GatewayView => ({ statusCode: 502, headers: {}, multiValueHeaders: {}, cookies: [], ...bodyOf(Buffer.from('{"message": "Internal server error"}')), problem });
  if (!payload) return bad(`payload of ${size} bytes (sha256 ${sha}) not kept; raise keepBodyBytes to read it`);
  let result: Record<string, unknown>;
  try {
    result = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    return bad('Malformed Lambda proxy response: not JSON');
  }
  if (typeof result !== 'object' || result === null || typeof result.statusCode !== 'number') return bad('Malformed Lambda proxy response: no statusCode');
  const raw = typeof result.body === 'string' ? result.body : '';
  const body = result.isBase64Encoded === true ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  return {
    statusCode: result.statusCode,
    headers: lowerKeys(stringRecord(result.headers)),
    multiValueHeaders: lowerKeys(stringListRecord(result.multiValueHeaders)),
    cookies: [],
    ...bodyOf(body),
  };
}

function stringRecord(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

function stringListRecord(v: unknown): Record<string, string[]> {
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, Array.isArray(x) ? x.map(String) : [String(x)]]));
}

function lowerKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}
