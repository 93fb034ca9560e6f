// Placeholder: the eval stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'eval',
  summary: '',
  help: 'pipeline eval: not implemented yet',
  async run() {
    throw new UserError('pipeline eval is not implemented yet');
  },
};
