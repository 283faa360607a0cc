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

/**
 * An OpenAI-compatible speech upstream that answers every `POST /v1/audio/speech` with `bytes`
 * of audio/mpeg (chunked, like OpenAI), for answers bigger than the provider sandbox makes.
 */
export async function bigSpeechUpstream(bytes: number): Promise<{ baseUrl: string; audio: Buffer; sha256: string; close(): Promise<void> }> {
  const audio = Buffer.alloc(bytes);
  // An MP3 frame header at the front, then a fixed filler: the gateway passes bytes through.
  audio.set([0xff, 0xfb, 0x90, 0x64]);
  for (let i = 4; i < bytes; i++) audio[i] = (i * 2654435761) >>> 24;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/audio/speech' || !String(req.headers.authorization ?? '').startsWith('Bearer sk-')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not here","type":"invalid_request_error","code":null,"param":null}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'transfer-encoding': 'chunked' });
      let i = 0;
      const pump = (): void => {
        while (i < audio.length) {
          const chunk = audio.subarray(i, i + 256 * 1024);
          i += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
  });
  const root = await listen(server);
  return { baseUrl: `${root}/v1`, audio, sha256: createHash('sha256').update(audio).digest('hex'), close: () => close(server) };
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
