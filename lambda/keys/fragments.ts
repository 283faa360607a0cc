import { REDACTED } from '../domain';

/** The shortest fragment of a secret that is removed: any run of this many characters of a key. */
export const FRAGMENT_LENGTH = 6;

// Rabin–Karp over 6-character windows in 32-bit integer arithmetic (exact mod 2^32, so the
// rolling update needs no division), with a bit table in front of the set: most windows of a text
// are not a key's, and one array read says so.
const B = 0x01000193;
const B_POW_N = (() => {
  let r = 1;
  for (let i = 0; i < FRAGMENT_LENGTH; i++) r = Math.imul(r, B);
  return r;
})();
const FILTER_BITS = 21;

/**
 * Every 6-character window of a set of secrets, to find any fragment of them in a text.
 *
 * A fragment of 6 or more characters is a union of 6-character windows of the secret, so marking
 * every window of the text that is a window of some secret covers every such fragment exactly —
 * and nothing else. The scan is one pass with a rolling hash (no substring per position) and a
 * bit-table lookup; only a hit is checked against the windows themselves, so the cost per
 * character stays flat whatever the number of keys (`npm run bench -- redact`).
 */
export class FragmentIndex {
  private readonly filter = new Uint32Array(1 << (FILTER_BITS - 5));
  private readonly windows = new Set<string>();

  /** `publicWords`: text of our own that is not secret even if a key contains it (vendor ids, error codes). */
  constructor(secrets: Iterable<string>, publicWords: readonly string[] = []) {
    const isPublic = (w: string) => publicWords.some((p) => p.includes(w));
    for (const s of secrets) {
      for (let i = 0; i + FRAGMENT_LENGTH <= s.length; i++) {
        const w = s.slice(i, i + FRAGMENT_LENGTH);
        if (this.windows.has(w) || isPublic(w)) continue;
        this.windows.add(w);
        const bit = hashOf(w) >>> (32 - FILTER_BITS);
        this.filter[bit >>> 5] |= 1 << (bit & 31);
      }
    }
  }

  get size(): number {
    return this.windows.size;
  }

  /** `text` with every run covered by a secret's window replaced by `[redacted]` (one per run). */
  scrub(text: string): string {
    if (this.windows.size === 0 || text.length < FRAGMENT_LENGTH) return text;
    let out: string | undefined;
    let copied = 0;
    let runStart = -1;
    let runEnd = -1;
    const filter = this.filter;
    let h = 0;
    for (let i = 0; i < text.length; i++) {
      h = (Math.imul(h, B) + text.charCodeAt(i)) | 0;
      if (i >= FRAGMENT_LENGTH) h = (h - Math.imul(text.charCodeAt(i - FRAGMENT_LENGTH), B_POW_N)) | 0;
      const bit = h >>> (32 - FILTER_BITS);
      if ((filter[bit >>> 5] & (1 << (bit & 31))) === 0) continue;
      const start = i - FRAGMENT_LENGTH + 1;
      if (start < 0 || !this.windows.has(text.slice(start, i + 1))) continue;
      if (start > runEnd) {
        // A new run: flush the previous one.
        if (runStart >= 0) {
          out = (out ?? '') + text.slice(copied, runStart) + REDACTED;
          copied = runEnd;
        }
        runStart = start;
      }
      runEnd = i + 1;
    }
    if (runStart < 0) return text;
    return (out ?? '') + text.slice(copied, runStart) + REDACTED + text.slice(runEnd);
  }
}

function hashOf(w: string): number {
  let h = 0;
  for (let i = 0; i < w.length; i++) h = (Math.imul(h, B) + w.charCodeAt(i)) | 0;
  return h;
}
