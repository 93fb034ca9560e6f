// Placeholder: the embed stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'embed',
  summary: '',
  help: 'pipeline embed: not implemented yet',
  async run() {
    throw new UserError('pipeline embed is not implemented yet');
  },
};
