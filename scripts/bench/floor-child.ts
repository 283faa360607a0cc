/**
 * The floor for one gateway hop: a pass-through proxy with no logic at all, in its own process.
 * What any Node gateway in front of the provider must add at least. Upstream base from
 * BENCH_FLOOR_UPSTREAM; BENCH_FLOOR_CLIENT picks the upstream client: `http` (default: node:http
 * keep-alive, bodies piped) or `fetch` (Node's fetch, bodies buffered — what our gateway uses).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveParent } from './procs';

const upstream = new URL(process.env.BENCH_FLOOR_UPSTREAM ?? 'http://127.0.0.1:1');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const viaFetch = process.env.BENCH_FLOOR_CLIENT === 'fetch';

async function fetchPass(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers: Record<string, string> = {};
  for (const k of ['content-type', 'authorization', 'accept']) {
    const v = req.headers[k];
    if (typeof v === 'string') headers[k] = v;
  }
  const up = await fetch(`${upstream.href.replace(/\/$/, '')}${req.url ?? '/'}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
  const body = Buffer.from(await up.arrayBuffer());
  res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream', 'content-length': String(body.length) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (viaFetch) {
    fetchPass(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    return;
  }
  const out = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: `${upstream.pathname.replace(/\/$/, '')}${req.url ?? '/'}`, headers: req.headers, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(out);
});

server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  serveParent({ url: `http://127.0.0.1:${port}`, pid: process.pid }, {}, async () => {
    agent.destroy();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  });
});
