import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP hop in front of the provider sandbox that can rewrite its JSON answers: what a provider
 * (or anything answering in its place) might send that the sandbox never would. Requests and
 * answers otherwise pass unchanged, over real HTTP both ways.
 */
export class RewriteProxy {
  /** Given the path and the parsed JSON answer, the answer to send instead (or the same object). */
  rewrite: (path: string, body: unknown) => unknown = (_p, b) => b;
  private server?: Server;
  origin = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.forward(req).then(
        ({ status, headers, body }) => {
          res.writeHead(status, headers);
          res.end(body);
        },
        () => {
          res.destroy();
        },
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async forward(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    const up = await fetch(`${this.target}${req.url ?? '/'}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    let body = Buffer.from(await up.arrayBuffer());
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (!['content-length', 'transfer-encoding', 'content-encoding', 'connection', 'keep-alive'].includes(k)) out[k] = v;
    });
    if ((out['content-type'] ?? '').includes('json')) {
      body = Buffer.from(JSON.stringify(this.rewrite(new URL(req.url ?? '/', 'http://x').pathname, JSON.parse(body.toString('utf8')))));
    }
    return { status: up.status, headers: out, body };
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}
