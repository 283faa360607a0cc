import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ensureRuntimeClient, RuntimeClient } from './install';
import { InvokeRecord, RuntimeApiOptions, RuntimeApiStandIn } from './runtime-api';

/**
 * One Lambda execution environment on this machine: the Runtime/Extensions API stand-in, and
 * AWS's runtime interface client (aws-lambda-ric) on Node 22 loading a handler from a task root,
 * with the environment variables Lambda's Node.js 22 runtime sets plus the function's own.
 *
 *   const fn = await LambdaEnvironment.start({ taskRoot, handler: 'index.handler', env: { TABLE_NAME: 't' } });
 *   const inv = await fn.invoke(apiGatewayEvent('GET', '/v1/health'));
 *   inv.gateway?.statusCode;          // what API Gateway would answer (502 on a function error)
 *   await inv.phaseEnded;             // the post-response extension has called next
 *   await fn.stop();                  // SHUTDOWN, SIGTERM, then SIGKILL after the grace period
 */

export interface LambdaEnvironmentOptions {
  /** LAMBDA_TASK_ROOT: the unzipped function code. */
  taskRoot: string;
  /** _HANDLER, e.g. `index.handler` (module `index` in the task root, export `handler`). */
  handler: string;
  /** The function's environment variables (the stack's, with local endpoints). */
  env?: Record<string, string>;
  functionName?: string;
  memoryMb?: number;
  /** Passed to the stand-in (timeoutMs, limits, externalExtensions, keepBodyBytes…). */
  runtimeApi?: Omit<RuntimeApiOptions, 'functionName' | 'handler' | 'onTimeout'>;
  /**
   * External extensions: scripts run on Node 22 as their own processes before the runtime, as
   * Lambda runs /opt/extensions/*; each registers under its file name (which the stand-in then
   * treats as external: it may subscribe to SHUTDOWN).
   */
  extensions?: string[];
  /** Echo the runtime's stdout/stderr to this process (default: only kept in `output`). */
  echo?: boolean;
  /**
   * Shutdown phase length, SIGTERM to SIGKILL. Default as Lambda's: 0 ms with no extension
   * registered (no SIGTERM at all), 500 ms with internal ones only, 2,000 ms with an external one.
   */
  shutdownGraceMs?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LambdaEnvironment {
  /** Everything the runtime process and external extensions wrote, as received. */
  readonly output: string[] = [];
  readonly exited: Promise<Exit>;
  private exitInfo?: Exit;

  private constructor(
    readonly api: RuntimeApiStandIn,
    readonly process: ChildProcess,
    readonly client: RuntimeClient,
    private readonly opts: LambdaEnvironmentOptions,
    readonly extensionProcesses: ChildProcess[],
  ) {
    this.exited = new Promise<Exit>((resolve) => {
      process.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        api.runtimeExited(signal ? `with signal ${signal}` : `with status ${code}`);
        resolve(this.exitInfo);
      });
    });
    const keep = (stream: NodeJS.ReadableStream | null, sink: NodeJS.WriteStream) =>
      stream?.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        this.output.push(text);
        if (opts.echo) sink.write(text);
      });
    for (const p of [process, ...extensionProcesses]) {
      keep(p.stdout, global.process.stdout);
      keep(p.stderr, global.process.stderr);
    }
  }

  /** Starts the stand-in and the runtime client (built on first use). Init runs in the background. */
  static async start(opts: LambdaEnvironmentOptions): Promise<LambdaEnvironment> {
    const client = await ensureRuntimeClient();
    const functionName = opts.functionName ?? 'nanobot';
    const self: { env?: LambdaEnvironment } = {};
    const externals = (opts.extensions ?? []).map((script) => path.basename(script));
    const api = new RuntimeApiStandIn({
      ...opts.runtimeApi,
      externalExtensions: [...(opts.runtimeApi?.externalExtensions ?? []), ...externals],
      functionName,
      handler: opts.handler,
      // Lambda ends an environment whose invoke ran out of time.
      onTimeout: () => {
        self.env?.process.kill('SIGKILL');
        for (const p of self.env?.extensionProcesses ?? []) p.kill('SIGKILL');
      },
    });
    const address = await api.start();
    const processEnv = lambdaEnv({ ...opts, functionName, address, client });
    // Extension init comes first: Lambda starts the runtime once every external extension has registered.
    const extensionProcesses = (opts.extensions ?? []).map((script) =>
      spawn(client.nodeBin, [script], { cwd: opts.taskRoot, env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    const until = Date.now() + 10_000;
    while (!externals.every((n) => api.extensions.some((e) => e.name === n))) {
      if (Date.now() > until) {
        for (const p of extensionProcesses) p.kill('SIGKILL');
        await api.close();
        throw new Error(`external extensions did not register: ${externals.join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const child = spawn(client.nodeBin, [client.entry], { cwd: opts.taskRoot, env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    self.env = new LambdaEnvironment(api, child, client, opts, extensionProcesses);
    return self.env;
  }

  invoke(event: unknown, opts?: { requestId?: string; traceId?: string }): Promise<InvokeRecord> {
    if (this.exitInfo) throw new Error(`the runtime has exited (${JSON.stringify(this.exitInfo)}); output:\n${this.text()}`);
    return this.api.invoke(event, opts);
  }

  text(): string {
    return this.output.join('');
  }

  /**
   * Lambda's shutdown: the runtime first (SIGTERM when an extension is registered, so it can write
   * what is left; SIGKILL after the grace), then SHUTDOWN to the external extensions subscribed to
   * it, which get the same grace to exit.
   */
  async stop(): Promise<Exit> {
    const exts = this.api.extensions;
    const grace = this.opts.shutdownGraceMs ?? (exts.some((e) => e.external) ? 2_000 : exts.length > 0 ? 500 : 0);
    if (!this.exitInfo) {
      this.process.kill(exts.length > 0 ? 'SIGTERM' : 'SIGKILL');
      const killer = setTimeout(() => this.process.kill('SIGKILL'), grace);
      await this.exited;
      clearTimeout(killer);
    }
    const running = this.extensionProcesses.filter((p) => p.exitCode === null && p.signalCode === null);
    if (running.length) {
      this.api.shutdown('spindown', grace);
      await Promise.all(
        running.map(
          (p) =>
            new Promise<void>((resolve) => {
              const killer = setTimeout(() => p.kill('SIGKILL'), grace);
              p.once('exit', () => {
                clearTimeout(killer);
                resolve();
              });
            }),
        ),
      );
    }
    await this.api.close();
    return this.exitInfo!;
  }
}

function lambdaEnv(o: LambdaEnvironmentOptions & { functionName: string; address: string; client: RuntimeClient }): NodeJS.ProcessEnv {
  const region = 'us-east-1';
  return {
    // What Lambda's nodejs22.x runtime sets (no AWS credentials reach AWS: every endpoint is local).
    PATH: `${path.dirname(o.client.nodeBin)}:/usr/local/bin:/usr/bin:/bin`,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: o.taskRoot,
    LAMBDA_RUNTIME_DIR: path.dirname(o.client.entry),
    _HANDLER: o.handler,
    AWS_LAMBDA_RUNTIME_API: o.address,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: o.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memoryMb ?? 512),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'ASIALOCALTESTONLY0000',
    AWS_SECRET_ACCESS_KEY: 'local-test-only-secret',
    AWS_SESSION_TOKEN: 'local-test-only-session',
    // Not set by Lambda; keeps any credential or region probe from reaching for an instance endpoint.
    AWS_EC2_METADATA_DISABLED: 'true',
    ...o.env,
  };
}

export interface RequestOptions {
  body?: string | Buffer | object;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** API Gateway stage (default `prod`). */
  stage?: string;
  /** The API resource that matched (default: the path itself, as the stack declares each route). */
  resource?: string;
  pathParameters?: Record<string, string>;
}

/**
 * An API Gateway REST proxy event (payload format 1.0), as the stack's API sends it:
 * its binary media types include `*\/*`, so every body arrives base64-encoded.
 */
export function apiGatewayEvent(method: string, pathname: string, opts: RequestOptions = {}): APIGatewayProxyEvent {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? Buffer.from(opts.body) : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string> = {
    Host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'nanobot-tests',
    'X-Forwarded-For': '203.0.113.10',
    'X-Forwarded-Proto': 'https',
    ...(body && typeof opts.body === 'object' && !Buffer.isBuffer(opts.body) ? { 'content-type': 'application/json' } : {}),
    ...opts.headers,
  };
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  const query = opts.query && Object.keys(opts.query).length ? opts.query : null;
  const stage = opts.stage ?? 'prod';
  const requestId = randomUUID();
  return {
    resource: opts.resource ?? pathname,
    path: pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query,
    multiValueQueryStringParameters: query ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: opts.pathParameters ?? null,
    stageVariables: null,
    body: body ? body.toString('base64') : null,
    isBase64Encoded: body !== undefined,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      path: `/${stage}${pathname}`,
      stage,
      requestId,
      extendedRequestId: requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'res123',
      resourcePath: opts.resource ?? pathname,
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      identity: {
        accessKey: null, accountId: null, apiKey: null, apiKeyId: null, caller: null, clientCert: null,
        cognitoAuthenticationProvider: null, cognitoAuthenticationType: null, cognitoIdentityId: null,
        cognitoIdentityPoolId: null, principalOrgId: null, sourceIp: '203.0.113.10', user: null,
        userAgent: 'nanobot-tests', userArn: null,
      },
    },
  };
}
