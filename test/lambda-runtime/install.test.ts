import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureRuntimeClient, REPO_ROOT } from './install';

/**
 * The install-on-first-use machinery: the cached path costs next to nothing, and the lock that
 * keeps two processes (two jest workers, two jest runs) from building at once really excludes,
 * and is taken over when its owner died.
 */
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const PROBE = path.join(__dirname, 'lock-probe.ts');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ric-lock-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function probe(lockDir: string, journal: string, holdMs: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [PROBE, lockDir, journal, String(holdMs)], { stdio: 'ignore' });
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

function journalOf(file: string): { pid: string; what: string; at: number }[] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([pid, what, ...rest]) => ({ pid, what, at: Number(rest[rest.length - 1]) }));
}

test('once built, ensuring the runtime client is a stat and a small read', async () => {
  // globalSetup built it (or this builds it, under the lock, if the run bypassed globalSetup).
  await ensureRuntimeClient();
  const r = await ensureRuntimeClient();
  expect(r.built).toBe(false);
  expect(r.ms).toBeLessThan(50);
  expect(fs.existsSync(r.entry)).toBe(true);
  expect(r.nodeVersion.startsWith('22.')).toBe(true);
}, 20 * 60_000);

test('two processes that start at once hold the install lock one after the other', async () => {
  const lockDir = path.join(dir, 'install.lock');
  const journal = path.join(dir, 'journal');
  const codes = await Promise.all([probe(lockDir, journal, 600), probe(lockDir, journal, 600)]);
  expect(codes).toEqual([0, 0]);
  const events = journalOf(journal).filter((e) => e.what === 'enter' || e.what === 'leave');
  expect(events.map((e) => e.what)).toEqual(['enter', 'leave', 'enter', 'leave']);
  expect(events[0].pid).toBe(events[1].pid);
  expect(events[2].pid).toBe(events[3].pid);
  expect(events[2].pid).not.toBe(events[0].pid);
  expect(events[2].at).toBeGreaterThanOrEqual(events[1].at);
  expect(journalOf(journal).some((e) => e.what.startsWith('log') && e.pid === events[2].pid)).toBe(true); // it said it waited
  expect(fs.existsSync(lockDir)).toBe(false);
}, 60_000);

test("a lock left by a process that died is taken over", async () => {
  const lockDir = path.join(dir, 'install.lock');
  const journal = path.join(dir, 'journal');
  const dead = spawnSync('true').pid; // exited: its pid names no live process
  fs.mkdirSync(lockDir);
  fs.writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: dead, host: os.hostname(), since: new Date().toISOString() }));
  expect(await probe(lockDir, journal, 10)).toBe(0);
  const lines = fs.readFileSync(journal, 'utf8');
  expect(lines).toContain('taking_over_a_stale_install_lock');
  expect(lines).toContain(' enter ');
}, 60_000);
