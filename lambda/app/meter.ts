import { pipeline, Readable, Transform } from 'node:stream';

export interface Metered {
  bytes: number;
  /** When the first byte passed (epoch ms, the injected clock). */
  firstByteAt?: number;
  /** Set when the stream did not end cleanly: the upstream failed, or the client went away. */
  error?: string;
}

/**
 * Passes a body through, counting bytes and timing the first one, and reports once when it ends
 * or fails. Destroying the returned stream (a client that went away) destroys the source, which
 * cancels the upstream request.
 */
export function meter(source: Readable, clock: () => number, onDone: (m: Metered) => void): Readable {
  const m: Metered = { bytes: 0 };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (m.firstByteAt === undefined) m.firstByteAt = clock();
      m.bytes += chunk.length;
      cb(null, chunk);
    },
  });
  pipeline(source, counter, (err) => {
    if (err) m.error = (err as NodeJS.ErrnoException).code ?? err.name;
    onDone(m);
  });
  return counter;
}
