/**
 * Standalone provider sandbox: `tsx scripts/sandbox/main.ts` (or `npm run sandbox`).
 * Env: SANDBOX_PORT (default 4010), SANDBOX_HOST (default 127.0.0.1),
 *      SANDBOX_JOB_DURATION_MS (default 3000), SANDBOX_QUIET=1 to skip the per-call log lines,
 *      SANDBOX_TIMING=fast|realistic (speech pacing, default fast; read by startSandbox, so `npm start` honours it too).
 * Stops on SIGINT/SIGTERM.
 */
import { DEFAULT_LIMITS, klingJwt, splitKlingEntry, startSandbox, type CallRecord, type Vendor } from './index';

function envInt(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${name} must be a non-negative integer, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

function short(key: string): string {
  return key.length <= 12 ? key : `${key.slice(0, 8)}…${key.slice(-4)}`;
}

async function main(): Promise<void> {
  const quiet = process.env.SANDBOX_QUIET === '1';
  const sb = await startSandbox({
    port: envInt('SANDBOX_PORT', 4010),
    host: process.env.SANDBOX_HOST ?? '127.0.0.1',
    jobDurationMs: envInt('SANDBOX_JOB_DURATION_MS', 3000),
    onCall: quiet
      ? undefined
      : (r: CallRecord) => {
          process.stdout.write(`${new Date(r.at).toISOString()} ${r.vendor.padEnd(10)} ${r.method} ${r.path} key=${short(r.key) || '-'} -> ${r.status || 'reset'}\n`);
        },
  });
  const limits = (v: Vendor): string => {
    const l = DEFAULT_LIMITS[v];
    return l ? `${l.calls} calls / ${l.windowMs / 1000} s per key` : 'unlimited';
  };
  const [ak = '', sk = ''] = (() => {
    const { access, secret } = splitKlingEntry(sb.defaultKeys.kling[0] ?? '');
    return [access, secret];
  })();
  const lines = [
    `provider sandbox listening on http://127.0.0.1:${sb.port}`,
    '',
    `  OpenAI      ${sb.urls.openai}   (${limits('openai')})`,
    `  ElevenLabs  ${sb.urls.elevenlabs}   (${limits('elevenlabs')})`,
    `  fal (sync)  ${sb.urls.fal}   (${limits('fal')})`,
    `  fal (queue) ${sb.urls.falQueue}   (not rate limited, like the real queue)`,
    `  Kling       ${sb.urls.kling}   (${limits('kling')} on task creation)`,
    `  fal (platform API) ${sb.urls.falPlatform}   (account billing probe)`,
    `  speech timing: ${process.env.SANDBOX_TIMING?.trim() || 'fast'} (SANDBOX_TIMING=fast|realistic)`,
    '',
    'environment for the gateway:',
    `  OPENAI_BASE_URL=${sb.urls.openai}`,
    `  OPENAI_API_KEYS=${sb.defaultKeys.openai.join(',')}`,
    `  ELEVENLABS_BASE_URL=${sb.urls.elevenlabs}`,
    `  ELEVENLABS_API_KEYS=${sb.defaultKeys.elevenlabs.join(',')}`,
    `  FAL_BASE_URL=${sb.urls.fal}`,
    `  FAL_QUEUE_BASE_URL=${sb.urls.falQueue}`,
    `  FAL_KEYS=${sb.defaultKeys.fal.join(',')}`,
    `  KLING_BASE_URL=${sb.urls.kling}`,
    `  KLING_API_KEYS=${sb.defaultKeys.kling.join(',')}`,
    '',
    'try:',
    `  curl -sS -o /tmp/sandbox.mp3 -w '%{http_code} %{content_type}\\n' ${sb.urls.openai}/audio/speech \\`,
    `    -H 'Authorization: Bearer ${sb.defaultKeys.openai[0] ?? ''}' -H 'Content-Type: application/json' \\`,
    `    -d '{"model":"tts-1","input":"hello","voice":"alloy"}'`,
    `  curl -sS ${sb.urls.kling}/v1/videos/text2video -H 'Authorization: Bearer ${klingJwt(ak, sk)}' \\`,
    `    -H 'Content-Type: application/json' -d '{"model_name":"kling-v1","prompt":"a cat surfing"}'`,
    '(the Kling token above is valid for 30 minutes)',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the sandbox\n`);
    sb.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
