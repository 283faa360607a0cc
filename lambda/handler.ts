import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { loadConfig } from './config/env';
import { Gateway, realTime } from './gateway';
import { createApp, ProxyHandler } from './http/app';
import { createLogger } from './observability/logger';

/**
 * Lambda entry (API Gateway REST proxy, payload v1). Configuration is read once per container, at
 * init: a malformed variable fails the cold start with a message naming it (never the key).
 */
const logger = createLogger();
const config = loadConfig();
let app: ProxyHandler | undefined;

function build(): ProxyHandler {
  const gateway = new Gateway(config, { ...realTime, log: logger });
  return createApp(gateway);
}

export const handler = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
  app ??= build();
  return app(event, context);
};
