import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorFields, Log } from '../../lambda/domain';
import { keysFromEnv, loadConfig } from '../../lambda/config/env';
import { Gateway, realTime } from '../../lambda/app/gateway';
import { createProber, Prober } from '../../lambda/app/prober';
import { createRuntime, Runtime, RuntimeOptions } from '../../lambda/app/runtime';
import { createLogger } from '../../lambda/observability/logger';
import { moduleOf, Vendor, VENDORS } from '../../lambda/providers/registry';
import { startSandbox, Sandbox } from '../sandbox';
import { ensureTable, startDynalite, LocalDynamo } from './dynamo';
import { toProxyEvent } from './apigw';
import { writeResult } from '../../lambda/http/write';

type Env = Record<string, string | undefined>;

export interface LocalStackOptions {
  /** Environment to configure from (default: process.env). Not modified. */
  env?: Env;
  /** HTTP port; 0 = ephemeral. Default: env PORT or 3000. */
  port?: number;
  /** A running sandbox to use for vendors without keys (default: start one if any vendor needs it). */
  sandbox?: Sandbox;
  log?: Log;
  deps?: Partial<Omit<RuntimeOptions, 'log'>>;
}

export interface LocalStack {
  url: string;
  port: number;
  gateway: Gateway;
  runtime: Runtime;
  /** The scheduled key probe, on a timer every PROBE_INTERVAL_MS (0 = no timer); `run()` probes now. */
  prober: Prober;
  /** Vendors served by the sandbox because no keys were configured for them. */
  sandboxVendors: Vendor[];
  sandbox?: Sandbox;
  dynamoEndpoint: string;
  close(): Promise<void>;
}

const LOCAL_MAX_BODY = 2_000_000;

/**
 * Everything on one machine: embedded DynamoDB unless DYNAMODB_ENDPOINT is set, the provider
 * sandbox for every vendor with no keys, and an HTTP server that turns each request into an API
 * Gateway proxy event for the same app the Lambda handler runs.
 */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const env: Env = { ...(opts.env ?? process.env) };
  const log = opts.log ?? createLogger();
  /** Stopped in reverse order of start. */
  const closers: (() => Promise<void>)[] = [];

  let dynamo: LocalDynamo | undefined;
  if (!env.DYNAMODB_ENDPOINT) {
    const wanted = Number(env.LOCAL_DYNAMODB_PORT ?? 0);
    // A fixed port lets `npm run health` find the store; if it is taken, any free port will do.
    dynamo = await startDynalite(wanted).catch(() => startDynalite(0));
    env.DYNAMODB_ENDPOINT = dynamo.endpoint;
    closers.push(() => dynamo!.close());
  }
  const tableName = env.TABLE_NAME ?? 'nanobot-config';
  try {
    await ensureTable(env.DYNAMODB_ENDPOINT, tableName);
  } catch (err) {
    // The store being down must not stop the gateway: health recording degrades, requests are served.
    log.warn('DynamoDB endpoint not reachable; continuing without it', { endpoint: env.DYNAMODB_ENDPOINT, error: (err as Error).name });
  }

  const sandboxVendors = VENDORS.filter((v) => keysFromEnv(env, v).length === 0 && Object.values(moduleOf(v).baseUrls).every((u) => u.sandbox));
  let sandbox = opts.sandbox;
  if (sandboxVendors.length > 0) {
    if (!sandbox) {
      const started = await startSandbox({ port: Number(env.SANDBOX_PORT ?? 0) });
      sandbox = started;
      closers.push(() => started.close());
    }
    const sb = sandbox;
    // Each vendor says which variables hold its keys and base URLs, and which sandbox endpoint stands in.
    for (const v of sandboxVendors) {
      const m = moduleOf(v);
      env[m.keys.plural] = sb.defaultKeys[v].join(',');
      for (const u of Object.values(m.baseUrls)) if (u.sandbox) env[u.variable] = sb.urls[u.sandbox];
    }
  }

  const config = loadConfig(env);
  const runtime = createRuntime(config, { ...realTime, log, ...opts.deps });
  const { gateway, app, flusher } = runtime;
  await runtime.keyState?.loadAll();
  // Health is written after the response, never before it: the same post-response flush the
  // Lambda extension does, plus a timer so a quiet server still writes what it has.
  const timer = setInterval(() => void flusher.flushIfDue(), 1000);
  timer.unref();
  closers.push(async () => {
    clearInterval(timer);
    runtime.keyState?.stop();
    await flusher.flush();
    runtime.ddb.destroy();
  });
  const prober = startProbes(runtime, config, { ...realTime, log, ...opts.deps, metrics: runtime.metrics }, closers);

  // No Nagle delay on answers: a streamed chunk goes out as soon as it is written.
  const server = createServer({ noDelay: true }, (req, res) => {
    readBody(req, LOCAL_MAX_BODY)
      .then(async (body) => {
        if (body === undefined) {
          res.writeHead(413, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'Request body too large.', type: 'invalid_request_error', code: 'request_too_large', param: null } }));
          return;
        }
        // A client that goes away before its answer starts: a request waiting in the admission queue leaves it.
        const gone = new AbortController();
        res.once('close', () => {
          if (!res.headersSent) gone.abort();
        });
        const result = await app(toProxyEvent(req, body), { signal: gone.signal });
        res.once('close', () => void runtime.afterResponse());
        // The same writer the Lambda handler uses: a streamed answer is piped as it arrives.
        await writeResult(result, (statusCode, headers) => {
          res.writeHead(statusCode, headers);
          return res;
        }).catch((err: unknown) => {
          // Aborted mid-stream (the upstream failed, or the client left): the response is destroyed, never ended cleanly.
          log.warn('response aborted', errorFields(err));
          res.destroy();
        });
      })
      .catch((err: unknown) => {
        log.error('local server error', errorFields(err));
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Internal error.', type: 'api_error', code: 'internal_error', param: null } }));
      });
  });
  const port = opts.port ?? Number(env.PORT ?? 3000);
  await listen(server, port);
  const actual = (server.address() as AddressInfo).port;
  closers.push(() => closeServer(server));

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    gateway,
    runtime,
    prober,
    sandboxVendors,
    sandbox,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT,
    close: () => {
      // Last started, first stopped: server, then the final health flush, then sandbox and store.
      closing ??= (async () => {
        for (const c of [...closers].reverse()) await c().catch(() => undefined);
      })();
      return closing;
    },
  };
}

/**
 * The same key probe the deployed stack runs on its EventBridge schedule, here on a timer: the
 * first run at start, then every PROBE_INTERVAL_MS (60 s by default; 0 = off). Runs never overlap,
 * and none is left running at close.
 */
function startProbes(runtime: Runtime, config: ReturnType<typeof loadConfig>, deps: Parameters<typeof createProber>[2], closers: (() => Promise<void>)[]): Prober {
  const prober = createProber(runtime, config, deps);
  const every = config.probes.intervalMs;
  if (every <= 0) return prober;
  let last: Promise<unknown> = Promise.resolve();
  const tick = () => {
    last = prober.run();
  };
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, every);
  first.unref();
  timer.unref();
  closers.push(async () => {
    clearTimeout(first);
    clearInterval(timer);
    await last;
  });
  return prober;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
