import { createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Harness as Base, HealthSums } from '../support/harness';

/** Resilience tests: the gateway's log lines captured but kept out of the report; generated keys for every vendor but Kling; deployed backoff. */
export class Harness extends Base {
  constructor() {
    super({ quiet: true, fill: 'generated', fastBackoff: false });
  }
}

export type { Reply, HealthSums } from '../support/harness';
export { healthSums } from '../support/harness';

export const speech = (over: Record<string, unknown> = {}) => ({ model: 'tts-1', input: 'Hello from the resilience suite', voice: 'alloy', ...over });
export const image = (over: Record<string, unknown> = {}) => ({ model: 'dall-e-3', prompt: 'a lighthouse in a storm', size: '1024x1024', ...over });

export function minus(a: HealthSums, b: HealthSums): HealthSums {
  return { requests: a.requests - b.requests, successes: a.successes - b.successes, failures: a.failures - b.failures, rateLimited: a.rateLimited - b.rateLimited, rotations: a.rotations - b.rotations };
}

/**
 * A TCP proxy in front of a DynamoDB endpoint whose failure mode can be switched: `pass`
 * forwards, `hang` accepts and forwards nothing either way (a black hole), `refuse` resets
 * every connection.
 */
export class FlakyProxy {
  mode: 'pass' | 'hang' | 'refuse' = 'pass';
  /** Connections accepted so far (each is a client's attempt to reach the store). */
  accepted = 0;
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      this.accepted += 1;
      this.track(client);
      if (this.mode === 'refuse') {
        client.resetAndDestroy();
        return;
      }
      const upstream = new Socket();
      this.track(upstream);
      upstream.connect(this.target.port, this.target.host);
      client.on('data', (d) => {
        if (this.mode === 'pass') upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (this.mode === 'pass') client.write(d);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Switches mode; `refuse` also resets the connections already open. */
  set(mode: FlakyProxy['mode']): void {
    this.mode = mode;
    if (mode === 'refuse') for (const s of this.sockets) s.resetAndDestroy();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
  }
}
