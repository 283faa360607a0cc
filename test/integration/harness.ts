import { Harness as Base } from '../support/harness';

export { post, speechBody, healthItems, healthSums, storedItemsText } from '../support/harness';

/** Integration tests: every log line shown; vendors given no keys run on the sandbox's demo keys; fast backoff. */
export class Harness extends Base {
  constructor() {
    super({ quiet: false, fill: 'sandbox', fastBackoff: true });
  }
}
