import type { APIGatewayProxyResult } from 'aws-lambda';
import type { AudioResult, Failure, ImageRequest, ImagesResult, RotationResult, SpeechRequest } from '../domain';
import { ROUTES } from '../contracts';
import type { ProviderId } from '../providers/registry';
import type { ImageProvider, SpeechProvider } from '../providers/types';
import { Call, errorResult, json, jsonBody, Route } from './app';
import { failureToHttp } from './errors';
import { parseImages, parseSpeech } from './validation';

/** What the media routes need of the gateway: run a validated request on its provider. */
export interface MediaRunner {
  speech(provider: SpeechProvider<ProviderId>, req: SpeechRequest, deadline: number): Promise<RotationResult<AudioResult>>;
  images(provider: ImageProvider<ProviderId>, req: ImageRequest, deadline: number): Promise<RotationResult<ImagesResult>>;
}

/** `POST /v1/audio/speech` and `POST /v1/images/generations`. */
export function mediaRoutes(gw: MediaRunner): Route[] {
  return [
    {
      ...ROUTES.speech,
      handle: async (call) => {
        const { serving, req } = parseSpeech(jsonBody(call.event));
        const r = await gw.speech(serving, req, call.deadline);
        return answer(call, serving.id, r, (audio) => ({
          statusCode: 200,
          headers: { 'content-type': audio.contentType },
          body: audio.audio.toString('base64'),
          isBase64Encoded: true,
        }));
      },
    },
    {
      ...ROUTES.images,
      handle: async (call) => {
        const { serving, req } = parseImages(jsonBody(call.event));
        return answer(call, serving.id, await gw.images(serving, req, call.deadline), (images) => json(200, images));
      },
    },
  ];
}

/** A provider route's answer: the result, or the failure in OpenAI shape; always naming provider and attempts. */
export function answer<T>(call: Call, provider: string, r: RotationResult<T>, ok: (v: T) => APIGatewayProxyResult): APIGatewayProxyResult {
  const res = r.ok ? ok(r.value) : failed(call, provider, r.failure);
  res.headers = { ...res.headers, 'x-nanobot-provider': provider, 'x-nanobot-attempts': String(r.attempts) };
  return res;
}

function failed(call: Call, provider: string, f: Failure): APIGatewayProxyResult {
  return errorResult(failureToHttp(f, provider), call.requestId);
}
