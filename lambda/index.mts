/**
 * The deployed entry point, bundled as ES module so that init can await: provider keys are read
 * and the post-response extension is registered before the first request (Lambda only accepts
 * extension registration during init).
 *
 * One bundle, two entries: the API function runs `index.handler`, the key-probe function
 * `index.probeHandler`. Lambda names the configured one in `_HANDLER`; only its init runs here
 * (the probe function must not register the API's post-response extension).
 */
import { PROBE_HANDLER_EXPORT } from './contracts.js';
import { handler, prepare } from './app/handler.js';
import { prepareProbe, probeHandler } from './app/probe-handler.js';

if (process.env._HANDLER?.endsWith(`.${PROBE_HANDLER_EXPORT}`)) await prepareProbe();
else await prepare();

export { handler, probeHandler };
