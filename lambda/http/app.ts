import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { RouteContract, routePattern } from '../contracts';
import { errorFields, InvalidRequest, Log } from '../domain';
import { HttpError, invalid, redactErrorAnswer } from './errors';

/** The part of the Lambda context the app uses; the local server supplies its own. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
  /** Aborted when the client goes away before its answer starts (the local server's socket closing). */
  signal?: AbortSignal;
}

/** An answer: a body read whole (API Gateway proxy result shape), or one that streams. */
export type HttpResult = APIGatewayProxyResult | StreamedResult;

export interface StreamedResult {
  statusCode: number;
  headers: Record<string, string>;
  stream: Readable;
}

export type ProxyHandler = (event: APIGatewayProxyEvent, context?: InvocationContext) => Promise<HttpResult>;

export interface Call {
  event: APIGatewayProxyEvent;
  requestId: string;
  deadline: number;
  params: string[];
  /** The client went away (where the platform says so): a request waiting in the admission queue leaves it. */
  signal?: AbortSignal;
}

/** A route of the shared contract (method and path) and what answers it. */
export interface Route extends RouteContract {
  handle(call: Call): Promise<HttpResult>;
}

/** What the HTTP layer needs of the runtime: time, a log, and how long a request may take. */
export interface HttpContext {
  clock: () => number;
  log: Log;
  /** Upper bound on a request's time budget; Lambda's remaining time minus the margin can only shorten it. */
  requestDeadlineMs: number;
  deadlineMarginMs: number;
}

/** Largest request body we parse (API Gateway's own limit is 10 MB). */
const MAX_BODY_BYTES = 1_000_000;

/**
 * The HTTP API over API Gateway REST proxy events (payload v1), the same in Lambda and in the
 * local server: routing, body decoding, validation, OpenAI-shaped errors, response headers.
 */
export function createApp(served: Route[], ctx: HttpContext): ProxyHandler {
  const { clock } = ctx;
  const routes = served.map((r) => ({ ...r, pattern: routePattern(r.path) }));

  return async (event, context) => {
    const requestId = event?.requestContext?.requestId || randomUUID();
    const path = normalisePath(event?.path);
    // A non-API-Gateway invoke (a warmer, a console test) has no method: answer it like any bad route.
    const method = String(event?.httpMethod ?? '').toUpperCase();
    const now = clock();
    const { requestDeadlineMs, deadlineMarginMs } = ctx;
    const remaining = context?.getRemainingTimeInMillis?.();
    const budget = remaining === undefined ? requestDeadlineMs : Math.min(requestDeadlineMs, remaining - deadlineMarginMs);
    let res: HttpResult;
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
      res = await route.handle({ event, requestId, deadline: now + budget, params, signal: context?.signal });
    } catch (err) {
      if (err instanceof HttpError) {
        res = errorResult(err, requestId);
      } else if (err instanceof InvalidRequest) {
        res = errorResult(invalid(err.message, err.param, err.code), requestId);
      } else {
        // Never crash, never echo: the cause is logged (our own error text), the client gets a generic 500.
        ctx.log.error('unhandled error', { requestId, ...errorFields(err) });
        res = errorResult(new HttpError(500, 'api_error', 'internal_error', 'Internal error.'), requestId);
      }
    }
    res = redactErrorAnswer(res);
    res.headers = { ...res.headers, 'x-request-id': requestId };
    return res;
  };
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

