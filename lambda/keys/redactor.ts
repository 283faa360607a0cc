import { Redactor, redactKeyShapes } from '../domain';
import { FragmentIndex } from './fragments';
import type { KeyPools } from './pools';

/**
 * The `Redactor` of the running gateway: removes every fragment of 6 or more characters of every
 * key this process has held (all vendors, both halves of pairs — keys replaced by a secret update
 * included, since a request may still be using one), then anything shaped like a key or a JWT.
 *
 * It follows the pools: when `KeyPools.update` brings new keys, the next call rebuilds the index
 * (one integer compared per call otherwise).
 */
export class KeyRedactor implements Redactor {
  private readonly held = new Set<string>();
  private index = new FragmentIndex([]);
  private seen = -1;

  /** `publicWords`: our own names (vendor and provider ids, error codes), never taken for a key's fragment. */
  constructor(
    private readonly pools: KeyPools,
    private readonly publicWords: readonly string[] = [],
  ) {}

  redact(text: string): string {
    if (this.pools.revision !== this.seen) this.rebuild();
    return this.index.scrub(redactKeyShapes(text));
  }

  private rebuild(): void {
    this.seen = this.pools.revision;
    let grew = false;
    for (const secret of this.pools.secrets()) {
      if (this.held.has(secret)) continue;
      this.held.add(secret);
      grew = true;
    }
    if (grew) this.index = new FragmentIndex(this.held, this.publicWords);
  }
}
