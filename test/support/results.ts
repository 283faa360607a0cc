import { Writable } from 'node:stream';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { HttpResult } from '../../lambda/http/app';

/** An app answer read whole (a streamed body collected), as a proxy result with a base64 body for binary. */
export async function readResult(res: HttpResult): Promise<APIGatewayProxyResult & { bytes: Buffer }> {
  if (!('stream' in res)) {
    const bytes = res.isBase64Encoded ? Buffer.from(res.body, 'base64') : Buffer.from(res.body, 'utf8');
    return { ...res, bytes };
  }
  const chunks: Buffer[] = [];
  for await (const c of res.stream) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  const text = /json|text/.test(res.headers['content-type'] ?? '');
  return { statusCode: res.statusCode, headers: res.headers, body: text ? bytes.toString('utf8') : bytes.toString('base64'), isBase64Encoded: !text, bytes };
}

/** What a streaming Lambda handler wrote: Lambda's HTTP integration framing (JSON prelude, 8 NUL bytes, body) decoded. */
export interface StreamedInvocation {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The stream was destroyed instead of ended (a response aborted mid-stream). */
  aborted: boolean;
}

/** A response stream for calling a streaming handler in-process; `result` decodes what it received. */
export function responseSink(): { stream: Writable; result(): StreamedInvocation } {
  const chunks: Buffer[] = [];
  let aborted = false;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
    destroy(err, cb) {
      if (err) aborted = true;
      cb(err);
    },
  });
  return {
    stream,
    result() {
      const all = Buffer.concat(chunks);
      const sep = all.indexOf(Buffer.alloc(8));
      if (sep < 0) throw new Error('no HTTP integration prelude in the response stream');
      const prelude = JSON.parse(all.subarray(0, sep).toString('utf8')) as { statusCode: number; headers: Record<string, string> };
      return { statusCode: prelude.statusCode, headers: prelude.headers, body: all.subarray(sep + 8), aborted };
    },
  };
}
