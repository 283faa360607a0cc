import type { Readable } from 'node:stream';

/** Cancels a body nobody will read (the upstream request is aborted), without an unhandled error. */
export function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}
