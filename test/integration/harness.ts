import { startSandbox, Sandbox, SandboxOptions } from '../../scripts/sandbox';
import { startLocalStack, LocalStack } from '../../scripts/local/stack';
import { startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { createLogger } from '../../lambda/observability/logger';
import { realTime } from '../../lambda/gateway';
import type { Vendor } from '../../lambda/core/types';

/**
 * Integration harness: the real local stack (same app as the Lambda handler) in front of the
 * provider sandbox over loopback HTTP and dynalite over the DynamoDB protocol. Every byte the
 * process writes to stdout/stderr while it runs is kept, so tests can scan the whole log output.
 */
export class Harness {
  sandbox!: Sandbox;
  dynamo!: LocalDynamo;
  readonly output: string[] = [];
  /** Every key handed to any stack, to scan the output for. */
  readonly secrets = new Set<string>();
  private stacks: LocalStack[] = [];
  private restore: (() => void)[] = [];

  async start(opts: SandboxOptions = {}): Promise<void> {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      this.restore.push(() => {
        stream.write = original as typeof stream.write;
      });
    }
    this.sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null }, ...opts });
    this.dynamo = await startDynalite();
  }

  /** A fresh gateway (fresh key pools) over the shared sandbox and dynalite. */
  async stack(keys: Partial<Record<Vendor, string[]>>, env: Record<string, string> = {}, sleeps?: number[]): Promise<LocalStack> {
    const sb = this.sandbox;
    for (const list of Object.values(keys)) for (const k of list ?? []) this.secrets.add(k);
    // Kling JWTs verify only against registered ACCESS:SECRET pairs (like real accounts).
    for (const k of keys.kling ?? []) sb.addKlingKey(k);
    const stack = await startLocalStack({
      port: 0,
      sandbox: sb,
      log: createLogger(),
      deps: sleeps ? { sleep: (ms: number) => { sleeps.push(ms); return realTime.sleep(ms); } } : {},
      env: {
        DYNAMODB_ENDPOINT: this.dynamo.endpoint,
        OPENAI_API_KEYS: (keys.openai ?? []).join(','),
        ELEVENLABS_API_KEYS: (keys.elevenlabs ?? []).join(','),
        FAL_KEYS: (keys.fal ?? []).join(','),
        KLING_API_KEYS: (keys.kling ?? []).join(','),
        OPENAI_BASE_URL: sb.urls.openai,
        ELEVENLABS_BASE_URL: sb.urls.elevenlabs,
        FAL_BASE_URL: sb.urls.fal,
        FAL_QUEUE_BASE_URL: sb.urls.falQueue,
        KLING_BASE_URL: sb.urls.kling,
        BACKOFF_BASE_MS: '20',
        BACKOFF_CAP_MS: '200',
        ...env,
      },
    });
    // Vendors left without keys get the sandbox's demo keys: scan for those too.
    for (const v of stack.sandboxVendors) for (const k of sb.defaultKeys[v]) this.secrets.add(k);
    this.stacks.push(stack);
    return stack;
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
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export const speechBody = (over: Record<string, unknown> = {}) => ({ model: 'tts-1', input: 'Hello from nanobot', voice: 'alloy', ...over });
