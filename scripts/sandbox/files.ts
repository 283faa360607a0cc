/**
 * Generated-file downloads (`/files/...`), standing in for the providers' CDNs (OpenAI blob URLs,
 * v3.fal.media, Kling's CDN). No authentication, no faults, not counted in `calls()`.
 * The files are derived from the URL alone, so they survive `reset()`.
 *   GET|HEAD /files/image/<name>.png?seed=<s>   tiny 64x64 PNG, colour from the seed
 *   GET|HEAD /files/image/<name>.jpg            64x64 JPEG
 *   GET|HEAD /files/audio/<name>.wav?seconds=<n>&seed=<s>   44.1 kHz 16-bit mono melody (<= 60 s)
 *   GET|HEAD /files/video/<name>.mp4            1 s H.264 MP4
 */
import { deflateSync } from 'node:zlib';
import { JPEG_IMAGE_B64, MP4_VIDEO_B64 } from './assets';
import { melody, wav, wavSize } from './audio';

export const JPEG_IMAGE: Buffer = Buffer.from(JPEG_IMAGE_B64, 'base64');
export const MP4_VIDEO: Buffer = Buffer.from(MP4_VIDEO_B64, 'base64');

export const STABLE_AUDIO_RATE = 44100;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function seedHash(seed: string): number {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

/** A valid RGB PNG: a diagonal gradient whose colour depends on `seed`. */
export function png(seed: string, size = 64): Buffer {
  const h = seedHash(seed);
  const [r0, g0, b0] = [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff];
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      const t = (x + y) / (2 * size);
      row[1 + x * 3] = Math.round(r0 * (1 - t) + 255 * t);
      row[2 + x * 3] = Math.round(g0 * (1 - t) + 64 * t);
      row[3 + x * 3] = Math.round(b0 * (1 - t) + 160 * t);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function clampAudioSeconds(seconds: number): number {
  return Math.min(60, Math.max(1, Math.round(seconds)));
}

/** The "generated music" WAV for a fal stable-audio result. */
export function musicWav(seed: string, seconds: number): Buffer {
  const s = clampAudioSeconds(seconds);
  return wav({ sampleRate: STABLE_AUDIO_RATE, seconds: s, freqs: melody(seed, s * 2), amplitude: 0.3 });
}

export function musicWavSize(seconds: number): number {
  return wavSize(STABLE_AUDIO_RATE, clampAudioSeconds(seconds));
}

export interface FileAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Resolve a `/files/...` path (prefix removed) to its bytes. */
export function serveFile(path: string, query: URLSearchParams): FileAnswer {
  const m = /^\/(image|audio|video)\/([A-Za-z0-9._-]+)\.(png|jpg|jpeg|wav|mp4)$/.exec(path);
  const notFound: FileAnswer = {
    status: 404,
    contentType: 'application/xml',
    body: Buffer.from('<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code></Error>'),
  };
  if (!m) return notFound;
  const [, kind, name = '', ext] = m;
  const seed = query.get('seed') ?? name;
  if (kind === 'image' && ext === 'png') return { status: 200, contentType: 'image/png', body: png(seed) };
  if (kind === 'image' && (ext === 'jpg' || ext === 'jpeg')) return { status: 200, contentType: 'image/jpeg', body: JPEG_IMAGE };
  if (kind === 'audio' && ext === 'wav') {
    const seconds = Number(query.get('seconds') ?? '5');
    return { status: 200, contentType: 'audio/wav', body: musicWav(seed, Number.isFinite(seconds) ? seconds : 5) };
  }
  if (kind === 'video' && ext === 'mp4') return { status: 200, contentType: 'video/mp4', body: MP4_VIDEO };
  return notFound;
}

/** Deterministic, incompressible filler bytes (xorshift32 from a seed string). */
function filler(seed: string, size: number): Buffer {
  let x = seedHash(seed) || 1;
  const out = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

/**
 * `image` (a PNG or a JPEG) grown to about `bytes` bytes and still valid: a PNG gets a private
 * ancillary chunk (`snDb`) before IEND, a JPEG comment segments after SOI. Decoders skip both.
 */
export function padImage(image: Buffer, bytes: number, seed: string): Buffer {
  const extra = bytes - image.length;
  const isPng = image[0] === 0x89;
  if (isPng) {
    if (extra <= 12) return image;
    const iend = image.length - 12;
    return Buffer.concat([image.subarray(0, iend), chunk('snDb', filler(seed, extra - 12)), image.subarray(iend)]);
  }
  if (extra <= 4) return image;
  const parts: Uint8Array[] = [image.subarray(0, 2)];
  for (let left = extra; left > 4; ) {
    const data = Math.min(65533, left - 4);
    const head = Buffer.from([0xff, 0xfe, 0, 0]);
    head.writeUInt16BE(data + 2, 2);
    parts.push(head, filler(`${seed}#${left}`, data).map((b) => (b === 0xff ? 0xfe : b)));
    left -= data + 4;
  }
  parts.push(image.subarray(2));
  return Buffer.concat(parts);
}
