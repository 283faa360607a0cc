import { QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { startSandbox, Sandbox, SandboxOptions, Vendor } from '../../scripts/sandbox';
import { startLocalStack, LocalStack } from '../../scripts/local/stack';
import { localClient, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { createLogger } from '../../lambda/observability/logger';
import { realTime } from '../../lambda/app/gateway';

export interface HarnessOptions {
  /** Keep the gateway's JSON log and EMF lines out of the test report (they are still captured and scanned). */
  quiet?: boolean;
  /** Vendors a test gives no keys: the sandbox's demo keys, or fresh generated ones (Kling: none). */
  fill?: 'sandbox' | 'generated';
  /** Short backoff (20 ms base, 200 ms cap) so retry tests run fast; off = the deployed defaults. */
  fastBackoff?: boolean;
}

/**
 * Test harness: the real local stack (the Lambda app behind the API Gateway event adapter) in
 * front of the provider sandbox over loopback HTTP and dynalite over the DynamoDB protocol. Every
 * byte the process writes to stdout/stderr while it runs is kept, and so is every response seen
 * through `send`, so tests can assert that no key ever appears in either.
 */
export class Harness {
  sandbox!: Sandbox;
  dynamo!: LocalDynamo;
  readonly output: string[] = [];
  /** Every response body and header block seen through `send`. */
  readonly responses: string[] = [];
  /** Every key handed to any stack, to scan for. */
  readonly secrets = new Set<string>();
  private stacks: LocalStack[] = [];
  private restore: (() => void)[] = [];
  private seq = 0;

  constructor(private readonly opts: HarnessOptions = {}) {}

  async start(sandboxOpts: SandboxOptions = {}): Promise<void> {
    const quiet = this.opts.quiet && process.env.RESILIENCE_VERBOSE !== '1';
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        this.output.push(text);
        if (quiet && (text.startsWith('{"level":') || text.startsWith('{"_aws":'))) {
          const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
          if (cb) process.nextTick(cb);
          return true;
        }
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      this.restore.push(() => {
        stream.write = original as typeof stream.write;
      });
    }
    this.sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null }, ...sandboxOpts });
    this.dynamo = await startDynalite();
  }

  /** Fresh, unique keys in the vendor's shape, so sandbox rules and call counts never leak between tests. */
  keys(vendor: Vendor, count: number): string[] {
    this.seq += 1;
    const rnd = () => Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 10);
    return Array.from({ length: count }, (_, i) => {
      const id = `t${this.seq}x${i + 1}r${rnd()}`;
      if (vendor === 'openai') return `sk-${id}`;
      if (vendor === 'elevenlabs') return `el${id}`;
      if (vendor === 'kling') return `AK${id}:SK${rnd()}${rnd()}`;
      return `${id}:secret${rnd()}`;
    });
  }

  /**
   * A fresh gateway (fresh key pools) over the shared sandbox and, unless `env` says otherwise,
   * the shared dynalite. `sleeps`, when given, records every backoff/wait the gateway sleeps.
   */
  async stack(keys: Partial<Record<Vendor, string[]>>, env: Record<string, string> = {}, sleeps?: number[]): Promise<LocalStack> {
    const sb = this.sandbox;
    const generated = this.opts.fill === 'generated';
    const pools: Record<Vendor, string[]> = {
      openai: keys.openai ?? (generated ? this.keys('openai', 1) : []),
      elevenlabs: keys.elevenlabs ?? (generated ? this.keys('elevenlabs', 1) : []),
      fal: keys.fal ?? (generated ? this.keys('fal', 1) : []),
      kling: keys.kling ?? [],
    };
    for (const list of Object.values(pools)) for (const k of list) this.secrets.add(k);
    // Kling JWTs verify only against registered ACCESS:SECRET pairs (like real accounts).
    for (const k of pools.kling) sb.addKlingKey(k);
    const stack = await startLocalStack({
      port: 0,
      sandbox: sb,
      log: createLogger(),
      deps: sleeps ? { sleep: (ms: number) => { sleeps.push(ms); return realTime.sleep(ms); } } : {},
      env: {
        DYNAMODB_ENDPOINT: this.dynamo.endpoint,
        OPENAI_API_KEYS: pools.openai.join(','),
        ELEVENLABS_API_KEYS: pools.elevenlabs.join(','),
        FAL_KEYS: pools.fal.join(','),
        KLING_API_KEYS: pools.kling.join(','),
        OPENAI_BASE_URL: sb.urls.openai,
        ELEVENLABS_BASE_URL: sb.urls.elevenlabs,
        FAL_BASE_URL: sb.urls.fal,
        FAL_QUEUE_BASE_URL: sb.urls.falQueue,
        KLING_BASE_URL: sb.urls.kling,
        FAL_PLATFORM_BASE_URL: sb.urls.falPlatform,
        // No probe timer unless a test asks for one: probe calls would change the sandbox's call counts.
        PROBE_INTERVAL_MS: '0',
        ...(this.opts.fastBackoff ? { BACKOFF_BASE_MS: '20', BACKOFF_CAP_MS: '200' } : {}),
        ...env,
      },
    });
    // Vendors left without keys run on the sandbox's demo keys: scan for those too.
    for (const v of stack.sandboxVendors) for (const k of sb.defaultKeys[v]) this.secrets.add(k);
    this.stacks.push(stack);
    return stack;
  }

  /** One request, timed from send to the last body byte; the answer is kept for the key scan. */
  async send(url: string, body: unknown, init: { method?: string; headers?: Record<string, string>; raw?: boolean } = {}): Promise<Reply> {
    const t0 = performance.now();
    const res = await fetch(url, {
      method: init.method ?? 'POST',
      headers: init.headers ?? { 'content-type': 'application/json' },
      body: init.method === 'GET' || init.method === 'HEAD' ? undefined : init.raw || typeof body === 'string' || Buffer.isBuffer(body) ? (body as string | Buffer) : JSON.stringify(body),
    });
    // A streamed answer that failed after its first byte arrives cut: `aborted`, with what came.
    const chunks: Buffer[] = [];
    let aborted = false;
    try {
      for await (const c of res.body ?? []) chunks.push(Buffer.from(c as Uint8Array));
    } catch {
      aborted = true;
    }
    const bytes = Buffer.concat(chunks);
    const ms = performance.now() - t0;
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const text = bytes.toString('utf8');
    this.responses.push(JSON.stringify(headers), text);
    let json: { error?: { code?: string; message?: string } } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    return { status: res.status, ms, headers, bytes, text, code: json?.error?.code, attempts: Number(headers['x-nanobot-attempts'] ?? NaN), aborted };
  }

  async stop(): Promise<void> {
    for (const s of this.stacks) await s.close();
    await this.sandbox?.close();
    await this.dynamo?.close();
    for (const r of this.restore) r();
  }

  /** Every secret fragment that must never appear: whole keys and, for pairs, each half. */
  forbidden(): string[] {
    const out = new Set<string>();
    for (const k of this.secrets) {
      out.add(k);
      for (const part of k.split(':')) if (part.length >= 8) out.add(part);
    }
    return [...out];
  }

  /** Forbidden strings found in the captured output or in any response. */
  leaks(): string[] {
    const hay = [this.output.join(''), this.responses.join('\n')];
    return this.forbidden().filter((k) => hay.some((h) => h.includes(k)));
  }

  /** Lines logged since output index `from` whose message is `message`. */
  logLines(from: number, message: string): string[] {
    return this.output.slice(from).join('').split('\n').filter((l) => l.includes(`"message":"${message}"`));
  }
}

export interface Reply {
  status: number;
  ms: number;
  headers: Record<string, string>;
  bytes: Buffer;
  text: string;
  code?: string;
  attempts: number;
  /** The answer began (status and headers) and was then cut: a stream aborted mid-way. */
  aborted: boolean;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export const speechBody = (over: Record<string, unknown> = {}) => ({ model: 'tts-1', input: 'Hello from nanobot', voice: 'alloy', ...over });

export interface HealthSums {
  requests: number;
  successes: number;
  failures: number;
  rateLimited: number;
  rotations: number;
}

/** Every `PROVIDER_HEALTH#<provider>` item, as the operators' query returns them. */
export async function healthItems(endpoint: string, provider: string, table = 'nanobot-config'): Promise<Record<string, unknown>[]> {
  const client = localClient(endpoint);
  try {
    const r = await client.send(new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `PROVIDER_HEALTH#${provider}` } },
    }));
    return (r.Items ?? []).map((i) => unmarshall(i));
  } finally {
    client.destroy();
  }
}

/** Sums of the BUCKET items of one provider. */
export async function healthSums(endpoint: string, provider: string): Promise<HealthSums> {
  const s: HealthSums = { requests: 0, successes: 0, failures: 0, rateLimited: 0, rotations: 0 };
  for (const it of await healthItems(endpoint, provider)) {
    if (!String(it.sk).startsWith('BUCKET#')) continue;
    for (const k of Object.keys(s) as (keyof HealthSums)[]) s[k] += Number(it[k] ?? 0);
  }
  return s;
}

/** Every item in the table, as text: what a key scan of DynamoDB reads. */
export async function storedItemsText(endpoint: string): Promise<string> {
  const client = localClient(endpoint);
  try {
    const parts: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await client.send(new ScanCommand({ TableName: 'nanobot-config', ExclusiveStartKey: start as never }));
      for (const i of r.Items ?? []) parts.push(JSON.stringify(i));
      start = r.LastEvaluatedKey;
    } while (start);
    return parts.join('\n');
  } finally {
    client.destroy();
  }
}
