// Placeholder: the similarity stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'similarity',
  summary: '',
  help: 'pipeline similarity: not implemented yet',
  async run() {
    throw new UserError('pipeline similarity is not implemented yet');
  },
};
