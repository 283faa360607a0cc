import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** Text bodies pass as UTF-8; anything else is base64, as API Gateway does with binary media types. */
function isText(contentType: string | undefined): boolean {
  return !contentType || /json|text|xml|x-www-form-urlencoded/i.test(contentType);
}

/** Turns one local HTTP request into the API Gateway REST proxy event (payload v1) Lambda would get. */
export function toProxyEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
  // Split the request-target by hand: `new URL` reads `//x` as a host and throws on `//`.
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const pathname = q === -1 ? target : target.slice(0, q);
  const search = q === -1 ? '' : target.slice(q + 1);
  // Null-prototype maps: a header or parameter named `constructor` or `__proto__` is just a name.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const multiValueHeaders: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  const multiQuery: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  new URLSearchParams(search).forEach((v, k) => {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  });
  const method = (req.method ?? 'GET').toUpperCase();
  const text = isText(req.headers['content-type']);
  const hasBody = body.length > 0;
  return {
    resource: '/{proxy+}',
    path: pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: search ? query : null,
    multiValueQueryStringParameters: search ? multiQuery : null,
    pathParameters: { proxy: pathname.replace(/^\//, '') },
    stageVariables: null,
    body: hasBody ? (text ? body.toString('utf8') : body.toString('base64')) : null,
    isBase64Encoded: hasBody && !text,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: method,
      path: `/local${pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: '/{proxy+}',
      identity: {
        accessKey: null, accountId: null, apiKey: null, apiKeyId: null, caller: null, clientCert: null,
        cognitoAuthenticationProvider: null, cognitoAuthenticationType: null, cognitoIdentityId: null,
        cognitoIdentityPoolId: null, principalOrgId: null, sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: null, userAgent: req.headers['user-agent'] ?? null, userArn: null,
      },
    },
  };
}
