/** The lab's local targets (TCP echo, HTTP), shared with the tests. */
export { startTargets, type Targets } from '../../src/lab/targets.js';
