import { createHash } from 'node:crypto';
import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Small loopback servers the Lambda runtime tests put between the function and its backends.
 */

export interface ObservedCall {
  /** performance.now() when the request reached the proxy (same clock as the Runtime API stand-in). */
  at: number;
  target: string;
  body: string;
}

/**
 * A pass-through in front of dynalite that notes the time and operation of every DynamoDB call,
 * so a test can tell when the function wrote what (e.g. after its response, before its extension
 * called next).
 */
export async function observingDynamoProxy(dynamoEndpoint: string): Promise<{ endpoint: string; calls: ObservedCall[]; close(): Promise<void> }> {
  const upstream = new URL(dynamoEndpoint);
  const calls: ObservedCall[] = [];
  const server = createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      calls.push({ at, target: String(req.headers['x-amz-target'] ?? ''), body: body.toString('utf8') });
      const fwd = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      fwd.on('error', () => res.destroy());
      fwd.end(body);
    });
  });
  const endpoint = await listen(server);
  return { endpoint, calls, close: () => close(server) };
}

/** One answer that passed through a recording proxy: what the provider sent, exactly. */
export interface RecordedAnswer {
  path: string;
  status: number;
  bytes: number;
  sha256: string;
}

/**
 * A pass-through in front of a provider (the sandbox) that relays every answer as it streams and
 * records its size and SHA-256: what the function received, byte for byte, to compare with what
 * the client got.
 */
export async function recordingProxy(targetBase: string): Promise<{ baseUrl: string; answers: RecordedAnswer[]; close(): Promise<void> }> {
  const target = new URL(targetBase);
  const answers: RecordedAnswer[] = [];
  const server = createServer((req, res) => {
    const fwd = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        up.on('end', () => answers.push({ path: req.url ?? '', status: up.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
        up.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  const baseUrl = `${await listen(server)}${target.pathname.replace(/\/$/, '')}`;
  return { baseUrl, answers, close: () => close(server) };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
