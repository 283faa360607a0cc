import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ProviderId } from '../core/types';
import type { AttemptObserver, RotationResult } from '../core/rotation';
import { RequestTally } from '../core/tally';
import type { Gateway } from '../gateway';
import { HttpError, failureToHttp, invalid } from './errors';
import { parseImages, parseSpeech } from './validation';

/** The part of the Lambda context the app uses; the local server supplies its own. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
}

export type ProxyHandler = (event: APIGatewayProxyEvent, context?: InvocationContext) => Promise<APIGatewayProxyResult>;

interface Call {
  event: APIGatewayProxyEvent;
  requestId: string;
  deadline: number;
  params: string[];
}

type RouteHandler = (call: Call) => Promise<APIGatewayProxyResult>;

interface Route {
  method: string;
  pattern: RegExp;
  handle: RouteHandler;
}

/** Largest request body we parse (API Gateway's own limit is 10 MB). */
const MAX_BODY_BYTES = 1_000_000;

/**
 * The HTTP API over API Gateway REST proxy events (payload v1), the same in Lambda and in the
 * local server: routing, body decoding, validation, OpenAI-shaped errors, response headers.
 */
export function createApp(gw: Gateway, extraRoutes: Route[] = []): ProxyHandler {
  const { clock } = gw.deps;

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: /^\/v1\/audio\/speech$/,
      handle: async (call) => {
        const started = clock();
        const { provider, req } = parseSpeech(jsonBody(call.event));
        return runProvided(gw, call, provider, started, (o) => gw.speech(provider, req, call.deadline, o), (audio) => ({
          statusCode: 200,
          headers: { 'content-type': audio.contentType },
          body: audio.audio.toString('base64'),
          isBase64Encoded: true,
        }));
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/images\/generations$/,
      handle: async (call) => {
        const started = clock();
        const { provider, req } = parseImages(jsonBody(call.event));
        return runProvided(gw, call, provider, started, (o) => gw.images(provider, req, call.deadline, o), (images) => json(200, images));
      },
    },
    ...extraRoutes,
  ];
  return async (event, context) => {
    const requestId = event?.requestContext?.requestId || randomUUID();
    const path = normalisePath(event?.path);
    // A non-API-Gateway invoke (a warmer, a console test) has no method: answer it like any bad route.
    const method = String(event?.httpMethod ?? '').toUpperCase();
    const now = clock();
    const { requestDeadlineMs, deadlineMarginMs } = gw.config.rotation;
    const remaining = context?.getRemainingTimeInMillis?.();
    const budget = remaining === undefined ? requestDeadlineMs : Math.min(requestDeadlineMs, remaining - deadlineMarginMs);
    let res: APIGatewayProxyResult;
    try {
      const matching = routes.filter((r) => r.pattern.test(path));
      const route = matching.find((r) => r.method === method);
      if (!route) {
        if (matching.length > 0) {
          const allow = [...new Set(matching.map((r) => r.method))].join(', ');
          throw new HttpError(405, 'invalid_request_error', 'method_not_allowed', `Method ${method} is not allowed on ${path}; use ${allow}.`, null, { allow });
        }
        throw new HttpError(404, 'not_found_error', 'unknown_route', `No route for ${method} ${path.slice(0, 200)}.`);
      }
      const params = (route.pattern.exec(path) ?? []).slice(1);
      res = await route.handle({ event, requestId, deadline: now + budget, params });
    } catch (err) {
      if (err instanceof HttpError) {
        res = errorResult(err, requestId);
      } else {
        // Never crash, never echo: the cause is logged (our own error text), the client gets a generic 500.
        gw.deps.log.error('unhandled error', { requestId, error: err instanceof Error ? err.message : String(err) });
        res = errorResult(new HttpError(500, 'api_error', 'internal_error', 'Internal error.'), requestId);
      }
    }
    res.headers = { ...res.headers, 'x-request-id': requestId };
    return res;
  };
}

/**
 * Runs a validated request through its provider and reports it to telemetry — except when the
 * provider refused the request itself: that is the client's fault, not the provider's health.
 */
export async function runProvided<T>(
  gw: Gateway,
  call: Call,
  provider: ProviderId,
  started: number,
  run: (o: AttemptObserver) => Promise<RotationResult<T>>,
  ok: (v: T) => APIGatewayProxyResult,
): Promise<APIGatewayProxyResult> {
  const tally = new RequestTally(provider);
  const r = await run(tally);
  const headers = { 'x-nanobot-provider': provider, 'x-nanobot-attempts': String(r.attempts) };
  const res = r.ok ? ok(r.value) : errorResult(failureToHttp(r.failure, provider), call.requestId);
  res.headers = { ...res.headers, ...headers };
  const failure = r.ok ? undefined : r.failure;
  if (failure?.kind !== 'upstream_rejected') {
    const at = gw.deps.clock();
    gw.deps.telemetry?.requestDone(tally.summary({ served: r.ok, status: res.statusCode, latencyMs: at - started, attempts: r.attempts, failure, at }));
  }
  return res;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function errorResult(e: HttpError, requestId: string): APIGatewayProxyResult {
  return json(e.status, { error: { message: e.message, type: e.type, code: e.code, param: e.param }, request_id: requestId }, e.headers);
}

/** The body as JSON: base64 bodies decoded, size bounded, parse errors as a 400. */
export function jsonBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body === '') {
    throw invalid('The request body is empty; send a JSON object.', null, 'invalid_json');
  }
  const buf = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (buf.length > MAX_BODY_BYTES) {
    throw new HttpError(413, 'invalid_request_error', 'request_too_large', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  }
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    throw invalid('The request body is not valid JSON.', null, 'invalid_json');
  }
}

function normalisePath(p: string | undefined): string {
  const path = (p ?? '/').replace(/\/{2,}/g, '/');
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

export type { Route, Call };
