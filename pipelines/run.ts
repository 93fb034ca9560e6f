// Placeholder: the run stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'run',
  summary: '',
  help: 'pipeline run: not implemented yet',
  async run() {
    throw new UserError('pipeline run is not implemented yet');
  },
};
