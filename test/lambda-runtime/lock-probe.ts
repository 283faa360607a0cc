import * as fs from 'node:fs';
import { withInstallLock } from './install';

/**
 * For install.test.ts: takes the install lock at argv[2], notes when it held it in argv[3]
 * (`<pid> enter|leave <ms since epoch>`), holds it argv[4] ms.
 */
const [lockDir, journal, holdMs] = process.argv.slice(2);
const note = (what: string) => fs.appendFileSync(journal, `${process.pid} ${what} ${Date.now()}\n`);
withInstallLock(lockDir, (line) => note(`log ${line.replace(/\s+/g, '_')}`), async () => {
  note('enter');
  await new Promise((r) => setTimeout(r, Number(holdMs)));
  note('leave');
}).catch((err: unknown) => {
  process.stderr.write(String(err));
  process.exit(1);
});
