import type { Readable } from 'node:stream';

/** Provider-neutral requests (after validation) and results, OpenAI-shaped. */

export const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

export const CONTENT_TYPE: Record<SpeechFormat, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

export interface SpeechRequest {
  model: string;
  input: string;
  voice: string;
  response_format: SpeechFormat;
  speed?: number;
  instructions?: string;
}

/** Media relayed as it arrives: speech audio, pass-through JSON. Destroying `body` cancels the upstream request. */
export interface MediaStream {
  contentType: string;
  body: Readable;
}

export interface ImageRequest {
  model: string;
  prompt: string;
  n: number;
  size?: string;
  quality?: string;
  response_format: 'url' | 'b64_json';
  style?: string;
}

export type ImageDatum = { url: string; revised_prompt?: string } | { b64_json: string; revised_prompt?: string };

/** The images answer, OpenAI-shaped (what a provider whose shape differs is mapped to). */
export interface ImagesResult {
  created: number;
  data: ImageDatum[];
}

/** A text-to-video generation (OpenAI videos shape, served by Kling). */
export interface VideoRequest {
  model: string;
  prompt: string;
  negative_prompt?: string;
  /** Kling `duration`: "5" or "10". */
  seconds: '5' | '10';
  aspect_ratio: '16:9' | '9:16' | '1:1';
  size?: string;
}

/** A text-to-audio generation (served by fal's queue). */
export interface AudioGenerationRequest {
  model: string;
  prompt: string;
  /** Length of the clip, 1–47 s (fal `seconds_total`). */
  seconds: number;
}

/**
 * Requests as a route's schema parsed them, before the serving provider's own rules: each
 * provider's `validate` turns one into its provider-neutral request or refuses it.
 */
/** The speech route's fields are the request's own; a provider checks and bounds their values. */
export type SpeechInput = SpeechRequest;

export interface ImageInput {
  model: string;
  prompt: string;
  n?: number;
  size?: string;
  quality?: string;
  response_format: 'url' | 'b64_json';
  style?: string;
}

export interface VideoInput {
  model: string;
  prompt: string;
  seconds?: string | number;
  size?: string;
  aspect_ratio?: string;
  negative_prompt?: string;
}

export interface AudioGenerationInput {
  model: string;
  prompt: string;
  seconds?: number;
}
