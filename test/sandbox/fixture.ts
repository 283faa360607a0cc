import { klingJwt, splitKlingEntry, startSandbox, type Sandbox, type SandboxOptions } from '../../scripts/sandbox';

/**
 * One sandbox per test file on a fake clock (fast timing), reset before each test, with the demo
 * keys of every vendor and a Kling JWT signed at the fake time. Registers its own jest hooks.
 */
export function sandboxFixture(opts: SandboxOptions = {}) {
  let now = Date.UTC(2026, 0, 15, 12, 0, 0);
  let sb: Sandbox | undefined;
  beforeAll(async () => {
    sb = await startSandbox({ now: () => now, timing: 'fast', ...opts });
  });
  afterAll(() => sb?.close());
  beforeEach(() => sb?.reset());
  const sandbox = (): Sandbox => {
    if (!sb) throw new Error('the sandbox starts in beforeAll');
    return sb;
  };
  const klEntry = (i = 0): string => sandbox().defaultKeys.kling[i] ?? '';
  return {
    get sb(): Sandbox {
      return sandbox();
    },
    now: (): number => now,
    advance: (ms: number): void => {
      now += ms;
    },
    oaKey: (i = 0): string => sandbox().defaultKeys.openai[i] ?? '',
    elKey: (i = 0): string => sandbox().defaultKeys.elevenlabs[i] ?? '',
    falKey: (i = 0): string => sandbox().defaultKeys.fal[i] ?? '',
    klEntry,
    jwt: (entry = klEntry()): string => {
      const { access, secret } = splitKlingEntry(entry);
      return klingJwt(access, secret, now);
    },
  };
}
