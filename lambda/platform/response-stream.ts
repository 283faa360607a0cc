import type { Writable } from 'node:stream';

/**
 * Lambda response streaming. In Lambda's Node runtime the global `awslambda` provides
 * `streamifyResponse` (marks the handler as streaming: it gets a response stream instead of
 * returning a result) and `HttpResponseStream.from` (writes the HTTP status and headers API
 * Gateway expects as a JSON prelude, then 8 NUL bytes, then the body). Outside Lambda (tests run
 * the handler in-process) the same two are provided here, writing the same bytes.
 */
export type StreamingHandler<E, C> = (event: E, responseStream: Writable, context: C) => Promise<void>;

interface AwsLambdaGlobal {
  streamifyResponse<E, C>(handler: StreamingHandler<E, C>): StreamingHandler<E, C>;
  HttpResponseStream: { from(stream: Writable, prelude: HttpPrelude): Writable };
}

export interface HttpPrelude {
  statusCode: number;
  headers: Record<string, string>;
}

/** The content type Lambda gives an HTTP integration response stream. */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** The runtime's streaming globals, when this is Lambda's Node runtime (other libraries put other things on `awslambda`). */
const runtimeGlobal = (): AwsLambdaGlobal | undefined => {
  const g = (globalThis as unknown as { awslambda?: Partial<AwsLambdaGlobal> }).awslambda;
  return typeof g?.streamifyResponse === 'function' && typeof g.HttpResponseStream?.from === 'function' ? (g as AwsLambdaGlobal) : undefined;
};

export function streamifyResponse<E, C>(handler: StreamingHandler<E, C>): StreamingHandler<E, C> {
  const g = runtimeGlobal();
  return g ? g.streamifyResponse(handler) : handler;
}

/** Status and headers first, then the body: the stream to write the body to. */
export function httpResponseStream(stream: Writable, prelude: HttpPrelude): Writable {
  const g = runtimeGlobal();
  if (g) return g.HttpResponseStream.from(stream, prelude);
  (stream as Writable & { setContentType?(t: string): void }).setContentType?.(HTTP_INTEGRATION_CONTENT_TYPE);
  stream.write(JSON.stringify(prelude));
  stream.write(Buffer.alloc(8));
  return stream;
}
