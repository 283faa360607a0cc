/**
 * One gateway instance of the `fleet` benchmark in its own process (its own memory, as a Lambda
 * container has), counting the DynamoDB commands it sends.
 */
import { startLocalStack } from '../local/stack';
import { MemoryLog } from '../../lambda/observability/logger';
import { serveParent } from './procs';
import { countCommands } from './lib';

async function main(): Promise<void> {
  const stack = await startLocalStack({ port: 0, env: process.env, log: new MemoryLog() });
  const commands = countCommands(stack.runtime.ddb);
  serveParent(
    { url: stack.url },
    {
      stats: async () => {
        await stack.runtime.afterResponse();
        await stack.runtime.flusher.flush();
        return { commands, keyState: stack.runtime.keyState?.stats ?? null };
      },
    },
    () => stack.close(),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
