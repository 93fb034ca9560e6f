// Placeholder: the concat stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'concat',
  summary: '',
  help: 'pipeline concat: not implemented yet',
  async run() {
    throw new UserError('pipeline concat is not implemented yet');
  },
};
