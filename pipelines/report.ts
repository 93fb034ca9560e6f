// Placeholder: the report stage is being built (see the open issues). Replace this whole file.
import { UserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

export const stage: Stage = {
  name: 'report',
  summary: '',
  help: 'pipeline report: not implemented yet',
  async run() {
    throw new UserError('pipeline report is not implemented yet');
  },
};
