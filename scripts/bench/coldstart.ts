import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, Metafile } from 'esbuild';
import { fmt, mdTable, quantile, Scenario } from './lib';
import { freePort } from './procs';

const ROOT = join(__dirname, '..', '..');

/** The `createRequire` banner of lib/constructs/media-function.ts (a CommonJS dependency that require()s a built-in needs it in ESM). */
export const LAMBDA_BANNER = "import{createRequire as __nbCreateRequire}from'module';const require=__nbCreateRequire(import.meta.url);";

/**
 * Bundles the Lambda entry as the CDK's NodejsFunction does for MediaFunction: esbuild, entry
 * lambda/index.mts, ESM, minified, linked source map without sources content, target node22,
 * platform node, main fields module,main, `@aws-sdk/*` external (the runtime ships SDK v3), the
 * createRequire banner.
 */
export async function bundleLambda(outdir: string): Promise<{ file: string; metafile: Metafile }> {
  const file = join(outdir, 'index.mjs');
  const r = await build({
    entryPoints: [join(ROOT, 'lambda', 'index.mts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: ['@aws-sdk/*'],
    banner: { js: LAMBDA_BANNER },
    metafile: true,
    logLevel: 'error',
  });
  return { file, metafile: r.metafile };
}

/** Imports a module in this fresh process and reports how long that took. */
const MEASURE = `
const t0 = performance.now();
const m = await import(process.argv[2]);
const t1 = performance.now();
if (typeof m.handler !== 'function') { process.stderr.write('no handler export'); process.exit(3); }
process.stdout.write(JSON.stringify({ importMs: t1 - t0, readyMs: t1, rss: process.memoryUsage().rss }));
process.exit(0);
`;

interface Sample {
  importMs: number;
  /** From process start (performance.timeOrigin) to the handler being importable. */
  readyMs: number;
  /** Parent-observed: spawn to exit. */
  wallMs: number;
  rss: number;
}

function runOnce(measure: string, module: string, env: Record<string, string>): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [measure, module], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`import of ${module} failed (${String(code)}): ${err.slice(0, 2000)}`));
      try {
        const v = JSON.parse(out) as Omit<Sample, 'wallMs'>;
        resolve({ ...v, wallMs });
      } catch {
        reject(new Error(`unreadable measurement: ${out.slice(0, 500)} ${err.slice(0, 500)}`));
      }
    });
  });
}

/** Bytes in the bundle per npm package (or per own directory), from esbuild's metafile. */
function byPackage(meta: Metafile, output: string): { name: string; bytes: number }[] {
  const inputs = meta.outputs[output]?.inputs ?? {};
  const sums = new Map<string, number>();
  for (const [path, v] of Object.entries(inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = m ? m[1] : path.split('/').slice(0, 2).join('/');
    sums.set(name, (sums.get(name) ?? 0) + v.bytesInOutput);
  }
  return [...sums.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Cold start of the deployed bundle: its size (and what it is made of), and module init — the
 * import of index.mjs, which runs the entry's top-level `await prepare()` — timed in fresh
 * `node` processes, beside a trivial ES module as the floor.
 */
export const coldstartScenario: Scenario = {
  name: 'coldstart',
  title: 'Cold start: Lambda bundle size and module init',
  async run() {
    const runs = Number(process.env.BENCH_COLDSTART_RUNS ?? 25);
    // Under the repository so `@aws-sdk/*` resolves from its node_modules; left-overs of an interrupted run go first.
    for (const d of readdirSync(__dirname)) if (d.startsWith('.coldstart-')) rmSync(join(__dirname, d), { recursive: true, force: true });
    const dir = join(__dirname, `.coldstart-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const { file, metafile } = await bundleLambda(dir);
      const trivial = join(dir, 'trivial.mjs');
      writeFileSync(trivial, 'export const handler = async () => ({ statusCode: 200, body: "" });\n');
      // The SDK clients the bundle imports but does not contain (the Lambda runtime provides them).
      const sdk = join(dir, 'sdk.mjs');
      const sdkImports = [...new Set(readFileSync(file, 'utf8').match(/from"@aws-sdk\/[^"]+"/g) ?? [])].map((m) => m.slice(5, -1));
      writeFileSync(sdk, `${sdkImports.map((m, i) => `import * as m${i} from ${JSON.stringify(m)};`).join('\n')}\nexport const handler = async () => [${sdkImports.map((_, i) => `m${i}`).join(', ')}].length;\n`);
      const measure = join(dir, 'measure.mjs');
      writeFileSync(measure, MEASURE);
      const code = readFileSync(file);
      const mapBytes = statSync(`${file}.map`).size;
      const gz = gzipSync(code, { level: 9 }).length;

      // No AWS_LAMBDA_RUNTIME_API (no extension), no PROVIDER_KEYS_SECRET_ID (no secret read), a
      // DynamoDB endpoint on a loopback port nothing listens on: init must not touch the network.
      const dummyPort = await freePort();
      const base: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        DYNAMODB_ENDPOINT: `http://127.0.0.1:${dummyPort}`,
        POWERTOOLS_METRICS_DISABLED: 'true',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      const variants = [
        { label: 'floor: trivial ES module', module: trivial, env: base },
        { label: `external AWS SDK clients alone (${sdkImports.join(', ')})`, module: sdk, env: base },
        { label: 'bundle (index.mjs)', module: file, env: base },
        { label: 'bundle + NODE_OPTIONS=--enable-source-maps (as deployed)', module: file, env: { ...base, NODE_OPTIONS: '--enable-source-maps' } },
      ];
      const samples: Sample[][] = variants.map(() => []);
      for (let w = 0; w < 2; w++) for (const v of variants) await runOnce(measure, v.module, v.env); // warm the page cache
      for (let i = 0; i < runs; i++) {
        for (let j = 0; j < variants.length; j++) samples[j].push(await runOnce(measure, variants[j].module, variants[j].env));
      }
      const med = (j: number, k: keyof Sample, q = 0.5) => quantile(samples[j].map((s) => s[k]), q);
      const rows = variants.map((v, j) => [
        v.label,
        fmt(med(j, 'importMs'), 1),
        fmt(med(j, 'importMs', 0.9), 1),
        fmt(med(j, 'readyMs'), 1),
        fmt(med(j, 'wallMs'), 1),
        fmt(med(j, 'wallMs', 0.9), 1),
        fmt(med(j, 'rss') / 2 ** 20, 1),
      ]);
      const initOver = med(2, 'importMs') - med(0, 'importMs');
      const initOverMaps = med(3, 'importMs') - med(0, 'importMs');
      const sdkShare = med(1, 'importMs') - med(0, 'importMs');
      const pkgs = byPackage(metafile, Object.keys(metafile.outputs).find((o) => o.endsWith('index.mjs')) ?? '');
      const total = pkgs.reduce((n, p) => n + p.bytes, 0);
      const top = pkgs.slice(0, 10).map((p) => [p.name, fmt(p.bytes / 1024, 1), fmt((100 * p.bytes) / total, 1)]);
      const out = metafile.outputs[Object.keys(metafile.outputs).find((o) => o.endsWith('index.mjs')) ?? ''];
      const files = Object.entries(out?.inputs ?? {})
        .map(([path, v]) => ({ path: path.replace(/^.*node_modules\//, ''), bytes: v.bytesInOutput }))
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, 6)
        .map((f) => [`\`${f.path}\``, fmt(f.bytes / 1024, 1), fmt((100 * f.bytes) / total, 1)]);
      const kib = (n: number) => fmt(n / 1024, 1);
      return {
        table: [
          mdTable(['bundle', 'KiB'], [
            ['index.mjs (minified)', kib(code.length)],
            ['index.mjs gzip -9 (≈ what the zip holds)', kib(gz)],
            ['index.mjs.map (no sources content)', kib(mapBytes)],
          ]),
          mdTable(['largest inputs (package or own dir)', 'KiB in output', '% of output'], top),
          mdTable(['largest input files', 'KiB in output', '% of output'], files),
          mdTable(['module', 'import ms p50', 'import ms p90', 'process start → ready ms p50', 'spawn → exit ms p50', 'spawn → exit ms p90', 'RSS MiB p50'], rows),
        ].join('\n\n'),
        summary:
          `bundle ${kib(code.length)} KiB minified (${kib(gz)} KiB gzipped); module init (import incl. top-level prepare) p50 ${fmt(med(2, 'importMs'), 1)} ms / p90 ${fmt(med(2, 'importMs', 0.9), 1)} ms, ` +
          `${fmt(initOver, 1)} ms over a trivial ES module (${fmt(initOverMaps, 1)} ms with --enable-source-maps as deployed), of which loading the external AWS SDK clients alone takes ${fmt(sdkShare, 1)} ms; ${runs} fresh processes each.`,
        notes:
          `Method: esbuild ${'(the repo\'s devDependency)'} with the options of \`lib/constructs/media-function.ts\` (entry \`lambda/index.mts\`, ESM, minify, linked source map without sources content, target node22, platform node, main fields module,main, \`@aws-sdk/*\` external, the \`createRequire\` banner) into a temporary directory under the repository (so \`@aws-sdk/*\` resolves from its node_modules, as the Lambda runtime's bundled SDK would), removed afterwards. ` +
          `Each sample is a fresh \`node\` process (${process.version} here; Lambda runs Node 22 on arm64) that imports the module with a dynamic \`import()\` and reports the time; the modules are interleaved, after 2 warm-up rounds. The SDK-only module imports exactly the \`@aws-sdk/*\` packages the bundle leaves external, from this repository's node_modules (in Lambda they come from the runtime, with their own load time). ` +
          `Environment: only PATH, AWS_REGION, POWERTOOLS_METRICS_DISABLED=true and DYNAMODB_ENDPOINT on a loopback port nothing listens on — no AWS_LAMBDA_RUNTIME_API (no extension registration) and no PROVIDER_KEYS_SECRET_ID (no Secrets Manager read), so this is module load plus the runtime wiring, not network. ` +
          `"Process start → ready" counts from Node's own time origin; "spawn → exit" is what the parent saw, Node's start-up included.`,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
