// Placeholder: the train stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'train',
  summary: '',
  help: 'pipeline train: not implemented yet',
  async run() {
    throw new UserError('pipeline train is not implemented yet');
  },
};
