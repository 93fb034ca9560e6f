// Placeholder: the save stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'save',
  summary: '',
  help: 'pipeline save: not implemented yet',
  async run() {
    throw new UserError('pipeline save is not implemented yet');
  },
};
