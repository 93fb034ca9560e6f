// Placeholder: the extract stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'extract',
  summary: '',
  help: 'pipeline extract: not implemented yet',
  async run() {
    throw new UserError('pipeline extract is not implemented yet');
  },
};
