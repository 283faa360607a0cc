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

export interface AudioResult {
  contentType: string;
  audio: Buffer;
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

export interface ImagesResult {
  created: number;
  data: ImageDatum[];
}
