import { PassThrough, pipeline, Readable } from 'node:stream';
import { discard, MalformedAnswer, MediaStream, OpenAnswer } from '../../domain';

/**
 * A 2xx audio answer, relayed: not a JSON or HTML document in disguise, and not empty — its first
 * chunk has arrived before the request is committed to this key (so an empty answer is still
 * retried on another). The chunk is put back; the rest streams as it comes.
 */
export async function relayAudio(a: OpenAnswer, contentType: string): Promise<MediaStream> {
  const ct = a.headers['content-type'] ?? '';
  if (/json|text\/html/i.test(ct)) {
    discard(a.body);
    throw new MalformedAnswer('audio route answered with a document');
  }
  return { contentType, body: await fromFirstChunk(a.body, 'empty audio') };
}

/**
 * The body once its first chunk has arrived: that chunk, then the rest as it comes (the source may
 * already have ended, for a short answer). Destroying the result destroys the source.
 */
async function fromFirstChunk(body: Readable, empty: string): Promise<Readable> {
  const first = await firstChunk(body);
  if (first === null) throw new MalformedAnswer(empty);
  const out = new PassThrough();
  out.write(first);
  pipeline(body, out, () => undefined); // an error destroys `out` with it: the client sees the abort
  return out;
}

/** Waits for a stream's first chunk without consuming the rest; null when it ends empty. */
function firstChunk(body: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const settle = (chunk: Buffer | null, err?: unknown) => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
      if (err) reject(err instanceof Error ? err : new MalformedAnswer('stream failed'));
      else resolve(chunk);
    };
    const onReadable = () => {
      const chunk = body.read() as Buffer | null;
      if (chunk !== null) settle(chunk);
    };
    const onEnd = () => settle(null);
    const onError = (err: unknown) => settle(null, err);
    body.on('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}
