/**
 * `npm start`: the gateway on this machine, on its embedded defaults — dynalite for DynamoDB and
 * the provider sandbox for every vendor without keys. Set keys and base URLs to call real providers.
 */
// Node 20 here, nodejs22.x in Lambda: the SDK's Node-version notice is noise for a local run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// The embedded store listens where `npm run health` looks by default.
process.env.LOCAL_DYNAMODB_PORT ??= '8000';
// The sandbox speaks like the real providers: speech's first chunk after about 300 ms, the rest
// faster than real time — so the streamed answer is visible (SANDBOX_TIMING=fast turns it off).
process.env.SANDBOX_TIMING ??= 'realistic';
import { ConfigError } from '../lambda/config/env';
import { DEFAULT_LOCAL_ENDPOINT } from './health';
import { startLocalStack } from './local/stack';

async function main(): Promise<void> {
  const stack = await startLocalStack();
  const sandboxed = stack.sandboxVendors.length ? stack.sandboxVendors.join(', ') : 'none';
  const out = [
    '',
    `nanobot media gateway listening on ${stack.url}`,
    `  DynamoDB: ${stack.dynamoEndpoint}${process.env.DYNAMODB_ENDPOINT ? '' : ' (embedded dynalite, in memory)'}`,
    `  provider sandbox for: ${sandboxed}${stack.sandbox ? ` (${stack.sandbox.urls.openai.replace(/\/openai\/v1$/, '')})` : ''}`,
    '',
    'Try:',
    `  curl -sS ${stack.url}/v1/audio/speech -H 'content-type: application/json' \\`,
    `    -d '{"model":"tts-1","input":"Hello from nanobot","voice":"alloy"}' -o hello.mp3 -D -`,
    '',
    'Audio streams as the provider produces it: watch the first bytes arrive at once with',
    `  curl -sS -N ${stack.url}/v1/audio/speech -H 'content-type: application/json' \\`,
    `    -d '{"model":"tts-1","input":"'"$(printf 'A long story. %.0s' {1..80})"'","voice":"alloy"}' -o story.mp3 -w 'first byte %{time_starttransfer}s, total %{time_total}s\\n'`,
    'Send a dozen in a row to watch keys rest, then a request wait for capacity (x-nanobot-queued-ms).',
    `Provider health: curl ${stack.url}/v1/health   or   ${stack.dynamoEndpoint === DEFAULT_LOCAL_ENDPOINT ? '' : `DYNAMODB_ENDPOINT=${stack.dynamoEndpoint} `}npm run health -- -w`,
    'Ctrl-C stops.',
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping\n`);
    stack.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const msg = err instanceof ConfigError ? `configuration error: ${err.message}` : `failed to start: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(msg + '\n');
  process.exit(1);
});
