import { AudioResult, MalformedAnswer, RawAnswer } from '../../domain';

/** A 2xx audio answer: bytes, non-empty, not a JSON error in disguise. */
export function audioFrom(a: RawAnswer, contentType: string): AudioResult {
  if (a.raw.length === 0) throw new MalformedAnswer('empty audio');
  const ct = a.headers['content-type'] ?? '';
  if (/json|text\/html/i.test(ct)) throw new MalformedAnswer('audio route answered with a document');
  return { contentType, audio: a.raw };
}
