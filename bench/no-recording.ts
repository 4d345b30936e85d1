/**
 * TEST-ONLY: the relay benchmark's recording-off switch, so that the cost of recording can be
 * measured against the same relay without it. It is not a setting of the appliance: nothing in
 * src/ reads a flag, a configuration key or an API field to stop recording. The benchmark loads
 * this module into the appliance it starts itself (`node --import=<this file>`, which its worker inherits), and the
 * hook (no-recording-hooks.ts) replaces the recording writer's `append` while the module is
 * loaded. Whoever can put code into the appliance's processes this way already controls them;
 * an administrator's configuration, the admin API and the pages cannot reach it.
 */
import { register } from 'node:module';

process.stderr.write('gatehouse: BENCHMARK HOOK LOADED: session bytes are NOT recorded\n');
register('./no-recording-hooks.js', import.meta.url);
