import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { SLOW_FILES } from './slow-files.js';

/**
 * Starts the files known to be slow first, longest first (see slow-files.ts for why); every
 * other file follows in vitest's own order (its cache of last durations, else size).
 */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const known = (spec: TestSpecification): number | undefined =>
      SLOW_FILES[path.relative(this.ctx.config.root, spec.moduleId).split(path.sep).join('/')];
    const slow = rest
      .filter((spec) => known(spec) !== undefined)
      .sort((a, b) => known(b)! - known(a)!);
    return [...slow, ...rest.filter((spec) => known(spec) === undefined)];
  }
}
