// Placeholder: the tokens stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'tokens',
  summary: '',
  help: 'pipeline tokens: not implemented yet',
  async run() {
    throw new UserError('pipeline tokens is not implemented yet');
  },
};
