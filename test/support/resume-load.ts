/** The copy and interactive sessions of the resumption cases, shared with the benchmark. */
export {
  interactive,
  receiveAll,
  startSource,
  type Interactive,
  type Source,
} from '../../src/lab/resume-load.js';
