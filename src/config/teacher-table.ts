/** `[training.teacher]`: distillation from a sentence encoder (used by src/train/distill/teacher.ts). */
import { ConfigError, bool, choice, int, nonNegativeNumber, num, positiveInt, table, validateTable, type Place, type TableOf } from './schema.ts';

export const TEACHER_KEYS = {
  /** The teacher encoder; only the npm-shipped USE-lite for now. */
  model: choice(['use_lite'], { default: 'use_lite', doc: 'teacher encoder' }),
  /** Weight of the distillation loss added to MNRL (0 with `guide`: the teacher only picks negatives). */
  weight: num({ check: nonNegativeNumber, default: 1, doc: 'distillation loss weight' }),
  /** cosine: 1 − cos(student, teacher) per text; mse: squared error of the L2-normalised vectors. */
  loss: choice(['cosine', 'mse'], { default: 'cosine', doc: 'distillation loss' }),
  /** Weight of the MNRL loss when distilling (1 = both; 0 = distillation alone). */
  mnrl_weight: num({ check: nonNegativeNumber, default: 1, doc: 'MNRL loss weight while distilling' }),
  batch_size: int({ check: positiveInt, default: 64, doc: 'texts per teacher batch' }),
  /** Distil on at most this many records (a prefix of the shuffled data); the rest train with MNRL only. */
  max_records: int({ check: positiveInt, doc: 'distil on at most this many records' }),
  /** GISTEmbed guidance: drop in-batch negatives the teacher ranks above the anchor's positive (minus `guide_margin`). */
  guide: bool({ default: false, doc: 'drop in-batch negatives the teacher finds closer than the positive (GISTEmbed)' }),
  guide_margin: num({ check: nonNegativeNumber, default: 0, doc: 'with guide: teacher-similarity margin below the positive' }),
};

/** `[training.teacher]`, validated. */
export type TeacherConfig = TableOf<typeof TEACHER_KEYS>;

function checkTeacher(cfg: TeacherConfig, { file, where }: Place): TeacherConfig {
  if (cfg.weight === 0 && cfg.mnrl_weight === 0) throw new ConfigError(file, where, 'weight and mnrl_weight are both 0: nothing to train on');
  return cfg;
}

export const TEACHER_FIELD = table(TEACHER_KEYS, { header: '[training.teacher]', refine: checkTeacher, doc: 'distillation options' });

/** Validate a raw `[training.teacher]` table (undefined when the config has none). */
export function parseTeacherConfig(file: string, raw: Record<string, unknown> | undefined): TeacherConfig | undefined {
  if (raw === undefined) return undefined;
  return checkTeacher(validateTable(file, '[training.teacher]', raw, TEACHER_KEYS), { file, where: '[training.teacher]' });
}
