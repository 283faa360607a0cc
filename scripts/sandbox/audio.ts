/**
 * Real, playable audio for the sandbox. WAV/PCM/G.711 are synthesised here (16-bit sine tones);
 * MP3, Ogg Opus, AAC (ADTS) and FLAC are small pre-encoded tones from ./assets (decoded once).
 */
import { AAC_ADTS_TONE_B64, FLAC_TONE_B64, MP3_TONE_B64, OGG_OPUS_TONE_B64 } from './assets';

export const MP3_TONE: Buffer = Buffer.from(MP3_TONE_B64, 'base64');
export const OGG_OPUS_TONE: Buffer = Buffer.from(OGG_OPUS_TONE_B64, 'base64');
export const AAC_TONE: Buffer = Buffer.from(AAC_ADTS_TONE_B64, 'base64');
export const FLAC_TONE: Buffer = Buffer.from(FLAC_TONE_B64, 'base64');

export interface ToneOptions {
  sampleRate?: number;
  seconds?: number;
  /** One frequency, or a sequence of notes played one after the other (equal lengths). */
  freqs?: number[];
  amplitude?: number;
}

/** 16-bit little-endian mono PCM samples of a tone (or note sequence) with 10 ms fades per note. */
export function pcm16(opts: ToneOptions = {}): Buffer {
  const sampleRate = opts.sampleRate ?? 24000;
  const seconds = opts.seconds ?? 1;
  const freqs = opts.freqs && opts.freqs.length > 0 ? opts.freqs : [440];
  const amplitude = opts.amplitude ?? 0.35;
  const total = Math.max(1, Math.round(sampleRate * seconds));
  const perNote = Math.max(1, Math.ceil(total / freqs.length));
  const fade = Math.max(1, Math.round(sampleRate * 0.01));
  const out = Buffer.alloc(total * 2);
  for (let i = 0; i < total; i++) {
    const note = Math.min(freqs.length - 1, Math.floor(i / perNote));
    const j = i - note * perNote;
    const len = Math.min(perNote, total - note * perNote);
    const env = Math.min(1, j / fade, (len - j) / fade);
    const f = freqs[note] ?? 440;
    const v = amplitude * env * Math.sin((2 * Math.PI * f * i) / sampleRate);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), i * 2);
  }
  return out;
}

/** RIFF/WAVE header for 16-bit mono PCM of `dataBytes` bytes. */
export function wavHeader(sampleRate: number, dataBytes: number, channels = 1): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export function wav(opts: ToneOptions = {}): Buffer {
  const sampleRate = opts.sampleRate ?? 24000;
  const data = pcm16({ ...opts, sampleRate });
  return Buffer.concat([wavHeader(sampleRate, data.length), data]);
}

/** Byte size of `wav()` for the same options, without synthesising it. */
export function wavSize(sampleRate: number, seconds: number): number {
  return 44 + Math.max(1, Math.round(sampleRate * seconds)) * 2;
}

/** G.711 mu-law encoding of 16-bit PCM. */
export function muLaw(pcm: Buffer): Buffer {
  const out = Buffer.alloc(pcm.length >> 1);
  for (let i = 0; i < out.length; i++) {
    let s = pcm.readInt16LE(i * 2);
    const sign = s < 0 ? 0x80 : 0;
    if (s < 0) s = -s;
    s = Math.min(s, 32635) + 0x84;
    let exp = 7;
    for (let mask = 0x4000; (s & mask) === 0 && exp > 0; mask >>= 1) exp--;
    const mant = (s >> (exp + 3)) & 0x0f;
    out[i] = ~(sign | (exp << 4) | mant) & 0xff;
  }
  return out;
}

/** G.711 A-law encoding of 16-bit PCM. */
export function aLaw(pcm: Buffer): Buffer {
  const out = Buffer.alloc(pcm.length >> 1);
  for (let i = 0; i < out.length; i++) {
    let s = pcm.readInt16LE(i * 2) >> 3; // 13-bit
    const sign = s >= 0 ? 0x80 : 0;
    if (s < 0) s = -s - 1;
    let code: number;
    if (s < 32) code = s >> 1;
    else {
      let seg = 1;
      while (seg < 7 && s >= 64 << (seg - 1)) seg++;
      code = (seg << 4) | ((s >> seg) & 0x0f);
    }
    out[i] = (sign | code) ^ 0x55;
  }
  return out;
}

/** A little pentatonic melody picked from a seed string (for "music" results). */
export function melody(seed: string, notes: number): number[] {
  const scale = [261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33, 659.25];
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < notes; i++) {
    h = Math.imul(h ^ (i + 1), 2654435761) >>> 0;
    out.push(scale[h % scale.length] ?? 440);
  }
  return out;
}

/** Speech pace the sandbox assumes: about 15 characters per second of audio at speed 1. */
export const CHARS_PER_SECOND = 15;

/** Seconds of speech for `chars` characters spoken at `speed`. */
export function speechSeconds(chars: number, speed = 1): number {
  return chars / CHARS_PER_SECOND / (speed > 0 ? speed : 1);
}

/** A body read lazily, so a 50 MB answer never sits in memory whole. Reads must be deterministic. */
export interface ByteSource {
  readonly length: number;
  /** Bytes [offset, offset + size) clipped to the length. */
  read(offset: number, size: number): Buffer;
}

export function bufferSource(buf: Buffer): ByteSource {
  return { length: buf.length, read: (o, n) => buf.subarray(Math.min(o, buf.length), Math.min(buf.length, o + n)) };
}

export function concatSources(parts: ByteSource[]): ByteSource {
  const length = parts.reduce((n, p) => n + p.length, 0);
  return {
    length,
    read(offset, size) {
      const out: Buffer[] = [];
      let start = offset;
      let left = Math.min(size, length - offset);
      let base = 0;
      for (const p of parts) {
        if (left <= 0) break;
        if (start < base + p.length) {
          const piece = p.read(start - base, Math.min(left, base + p.length - start));
          out.push(piece);
          start += piece.length;
          left -= piece.length;
        }
        base += p.length;
      }
      return Buffer.concat(out);
    },
  };
}

/** `length` bytes made of equal blocks laid end to end: block `i` is `blockAt(i)` (`blockLength` bytes). */
function tiledSource(length: number, blockLength: number, blockAt: (i: number) => Buffer): ByteSource {
  return {
    length,
    read(offset, size) {
      const end = Math.min(length, offset + size);
      const out: Buffer[] = [];
      for (let at = offset; at < end; ) {
        const i = Math.floor(at / blockLength);
        const inBlock = at - i * blockLength;
        const take = Math.min(blockLength - inBlock, end - at);
        out.push(blockAt(i).subarray(inBlock, inBlock + take));
        at += take;
      }
      return Buffer.concat(out);
    },
  };
}

/** `unit` repeated back to back, cut at exactly `length` bytes. */
export function repeatSource(unit: Buffer, length: number): ByteSource {
  return tiledSource(length, unit.length, () => unit);
}

const SCALE = [261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33, 659.25];
const noteBlocks = new Map<string, Buffer>();

function noteBlock(sampleRate: number, freq: number): Buffer {
  const id = `${sampleRate}:${freq}`;
  let b = noteBlocks.get(id);
  if (!b) {
    b = pcm16({ sampleRate, seconds: 1, freqs: [freq], amplitude: 0.3 });
    noteBlocks.set(id, b);
  }
  return b;
}

/** 16-bit mono PCM of `length` bytes: one-second notes, the sequence chosen by `seed`. */
export function pcmSource(sampleRate: number, length: number, seed: string): ByteSource {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const noteOf = (i: number): number => SCALE[(Math.imul(h ^ (i + 1), 2654435761) >>> 0) % SCALE.length] ?? 440;
  return tiledSource(length, sampleRate * 2, (i) => noteBlock(sampleRate, noteOf(i)));
}

/** G.711 of a PCM source: one output byte per input sample. */
function g711Source(pcm: ByteSource, encode: (b: Buffer) => Buffer): ByteSource {
  return { length: pcm.length >> 1, read: (o, n) => encode(pcm.read(o * 2, n * 2)) };
}

/** Bytes before the first FLAC frame ("fLaC" + metadata blocks): kept once when the tone is repeated. */
export function flacHeaderLength(flac: Buffer): number {
  let at = 4;
  for (;;) {
    const h = flac[at] ?? 0x80;
    const len = flac.readUIntBE(at + 1, 3);
    at += 4 + len;
    if (h & 0x80 || at >= flac.length) return Math.min(at, flac.length);
  }
}

export type AudioCodec = 'pcm' | 'wav' | 'mp3' | 'opus' | 'aac' | 'flac' | 'ulaw' | 'alaw';

/**
 * A speech body of exactly `bytes` bytes. pcm/wav/G.711 are synthesised (a note per second, chosen by
 * `seed`; wav with a header that declares the data that follows); the compressed formats repeat the
 * pre-encoded tone (FLAC: its frames after one header) and are cut at `bytes`.
 */
export function sizedAudio(codec: AudioCodec, sampleRate: number, bytes: number, seed: string): ByteSource {
  switch (codec) {
    case 'pcm':
      return pcmSource(sampleRate, bytes, seed);
    case 'wav': {
      const data = Math.max(0, bytes - 44);
      return concatSources([bufferSource(wavHeader(sampleRate, data)), pcmSource(sampleRate, data, seed)]);
    }
    case 'ulaw':
      return g711Source(pcmSource(8000, bytes * 2, seed), muLaw);
    case 'alaw':
      return g711Source(pcmSource(8000, bytes * 2, seed), aLaw);
    case 'opus':
      return repeatSource(OGG_OPUS_TONE, bytes);
    case 'aac':
      return repeatSource(AAC_TONE, bytes);
    case 'flac': {
      const head = flacHeaderLength(FLAC_TONE);
      const frames = FLAC_TONE.subarray(head);
      return concatSources([bufferSource(FLAC_TONE.subarray(0, Math.min(head, bytes))), repeatSource(frames, Math.max(0, bytes - head))]);
    }
    default:
      return repeatSource(MP3_TONE, bytes);
  }
}
