/**
 * The deployed entry point, bundled as ES module so that init can await: provider keys are read
 * and the post-response extension is registered before the first request (Lambda only accepts
 * extension registration during init).
 */
import { handler, prepare } from './app/handler.js';

await prepare();

export { handler };
