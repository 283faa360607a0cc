import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { HttpResult } from './app';

/**
 * Writes an answer to wherever responses go — Lambda's response stream, or the local server's
 * socket — given a way to open it with a status and headers. A streamed body is piped: its bytes
 * reach the client as they arrive, memory stays one chunk deep, and if either side fails the other
 * is destroyed (a client that goes away cancels the upstream request; an upstream that fails
 * mid-stream aborts the client's response — never a silent end). Resolves when the answer is
 * complete; rejects with the failure otherwise.
 */
export async function writeResult(res: HttpResult, open: (statusCode: number, headers: Record<string, string>) => Writable): Promise<void> {
  const headers = { ...(res.headers as Record<string, string>) };
  const out = open(res.statusCode, headers);
  if ('stream' in res) {
    await pipeline(res.stream, out);
    return;
  }
  const body = res.isBase64Encoded ? Buffer.from(res.body, 'base64') : Buffer.from(res.body, 'utf8');
  // write, then end: Lambda's response stream writes the HTTP prelude on the first write(), and
  // end(chunk) does not go through write().
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.write(body);
    out.end(() => resolve());
  });
}
