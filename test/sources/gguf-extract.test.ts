/**
 * `extract` from a local GGUF file (`gguf = ...`, `path = ...` or `--from` naming one): every stored type decoded
 * exactly (values from test/helpers/gguf-models.ts, written from ggml-quants.c's reference dequantize_row_*),
 * checked against the config like safetensors, provenance recorded, bad input one line and no output file.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { decodeToF32, type FloatDType } from '../../src/safetensors/dtype.ts';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { extract, type ExtractRequest } from '../../src/sources/extract.ts';
import { extractIsCurrent } from '../../src/layout/stage-freshness.ts';
import { GGML_TYPE } from '../../src/sources/gguf/dequantize.ts';
import { readGgufHeader } from '../../src/sources/gguf/header.ts';
import { expectedRows, ggufRowBytes, testGguf, type TestGgufType } from '../helpers/gguf-models.ts';
import { memorySource, writeGguf } from '../helpers/gguf-writer.ts';
import { tinyTokenizerJson } from '../helpers/hub-server.ts';

const VOCAB = 300;
const DIM = 256;
let tmp: string;
let n = 0;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gguf-extract-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A folder with `model.gguf` (and tokenizer.json unless told not to); returns the folder. */
function modelDir(bytes: Uint8Array, tokenizer = true): string {
  const dir = join(tmp, `m${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.gguf'), bytes);
  if (tokenizer) writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerJson(VOCAB));
  return dir;
}

function config(dir: string, model: Record<string, unknown>) {
  return parseConfig({ model: { dim: DIM, n_vocab: VOCAB, pad_token: '<pad>', ...model } }, join(dir, 'cfg.toml'));
}

const request = (cfg: ReturnType<typeof config>, over: Partial<ExtractRequest> = {}): ExtractRequest => ({
  config: cfg,
  outDir: join(tmp, `out${++n}`),
  quiet: true,
  ...over,
});

async function readOutput(path: string) {
  const f = await SafetensorsFile.open(path);
  try {
    const t = f.tensor('embedding');
    return { shape: t.shape, dtype: t.dtype, metadata: f.header.metadata, values: decodeToF32(await f.readBytes(t, 0, t.end - t.begin), t.dtype) };
  } finally {
    await f.close();
  }
}

describe('extract from a local GGUF file', () => {
  const cases: [TestGgufType, FloatDType][] = [
    ['F32', 'F32'],
    ['F16', 'F16'],
    ['BF16', 'F32'],
    ['Q8_0', 'F32'],
    ['Q8_0', 'F16'],
    ['Q4_0', 'BF16'],
    ['Q4_K', 'F32'],
    ['Q4_K', 'F16'],
  ];
  for (const [type, dtype] of cases) {
    it(`${type} → ${dtype}: exact rows, provenance and "dequantized" in the metadata`, async () => {
      const dir = modelDir(testGguf({ type, vocab: VOCAB, dim: DIM }));
      const r = request(config(dir, { gguf: 'model.gguf' }), { dtype });
      const s = await extract(r);
      const src = s.sources[0]!;
      expect(src).toMatchObject({
        kind: 'local',
        source_format: 'gguf',
        source_dtype: type,
        rows: VOCAB,
        dim: DIM,
        dequantized: !['F32', 'F16', 'BF16'].includes(type),
      });
      const out = await readOutput(join(r.outDir!, 'cfg.safetensors'));
      expect(out.shape).toEqual([VOCAB, DIM]);
      expect(out.dtype).toBe(dtype);
      // Every expected value is exact in f16 and bf16 as well (small multiples of powers of two).
      expect(out.values).toEqual(expectedRows(type, VOCAB, DIM));
      expect(out.metadata).toMatchObject({
        repo: join(dir, 'model.gguf'),
        revision: 'local',
        tensor: 'token_embd.weight',
        source_dtype: type,
        source_kind: 'local',
        source_format: 'gguf',
        dequantized: String(src.dequantized),
        shape: JSON.stringify([VOCAB, DIM]),
      });
      expect(readdirSync(r.outDir!).sort()).toEqual(['cfg.safetensors', 'extract.json', 'tokenizer.json']);
      // The same freshness test as pipeline run: current now, and skipped by a second extract.
      expect(await extractIsCurrent(r.config, r.outDir!)).toBe(true);
      expect((await extract(r)).sources[0]!.skipped).toBe(true);
    });
  }

  it('path = ... and --from recognise a GGUF file by its magic, whatever its name (Ollama blobs have none)', async () => {
    const dir = modelDir(testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM }));
    writeFileSync(join(dir, 'sha256-0123abcd'), testGguf({ type: 'Q4_0', vocab: VOCAB, dim: DIM }));
    const viaPath = await extract(request(config(dir, { path: 'sha256-0123abcd' })));
    expect(viaPath.sources[0]).toMatchObject({ source_format: 'gguf', source_dtype: 'Q4_0' });
    const r = request(config(dir, { hf_model_id: 'org/some-GGUF', gguf_file: 'x-Q4_K_M.gguf' }), { from: join(dir, 'model.gguf') });
    const viaFrom = await extract(r);
    expect(viaFrom.sources[0]).toMatchObject({ source_format: 'gguf', source_dtype: 'Q8_0', repo: 'org/some-GGUF' });
    expect((await readOutput(join(r.outDir!, 'cfg.safetensors'))).values).toEqual(expectedRows('Q8_0', VOCAB, DIM));
    // --from a safetensors file on a gguf = ... config: the file's content decides, not the configured kind.
    const rows = expectedRows('F32', VOCAB, DIM);
    await writeSafetensors(join(dir, 'st.safetensors'), [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [VOCAB, DIM], data: rows }]);
    const st = request(config(dir, { gguf: 'model.gguf' }), { from: join(dir, 'st.safetensors'), dtype: 'F32' });
    expect((await extract(st)).sources[0]).toMatchObject({ source_dtype: 'F32', tensor: 'model.embed_tokens.weight' });
    expect((await extract(st)).sources[0]!.source_format).toBeUndefined();
    expect((await readOutput(join(st.outDir!, 'cfg.safetensors'))).values).toEqual(rows);
  });

  it('padded rows beyond n_vocab are kept out only with drop_extra_rows', async () => {
    const dir = modelDir(testGguf({ type: 'Q4_K', vocab: VOCAB + 20, dim: DIM }));
    await expect(extract(request(config(dir, { gguf: 'model.gguf' })))).rejects.toThrow(
      `${join(dir, 'cfg.toml')}: [model] n_vocab: 300 but the tensor has 320 rows (${join(dir, 'model.gguf')}#token_embd.weight); if the checkpoint pads its matrix beyond the tokenizer, set drop_extra_rows = true, else set n_vocab = 320`,
    );
    const r = request(config(dir, { gguf: 'model.gguf', drop_extra_rows: true }));
    await extract(r);
    expect((await readOutput(join(r.outDir!, 'cfg.safetensors'))).values).toEqual(expectedRows('Q4_K', VOCAB, DIM));
  });

  it('bad input is one line naming the file and the fix, and writes nothing', async () => {
    const cases: [Uint8Array, Record<string, unknown>, string | RegExp, boolean?][] = [
      [
        testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM }),
        { dim: 128 },
        /cfg\.toml: \[model\] dim: 128 contradicts the tensor: .*model\.gguf#token_embd\.weight is \[300, 256\]; set dim = 256$/,
      ],
      [
        testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM, arch: 'qwen2', embeddingLength: 896 }),
        {},
        /model\.gguf: qwen2\.embedding_length is 896 but tensor "token_embd\.weight" rows are 256 wide; the file is inconsistent$/,
      ],
      [
        writeGguf([], [{ name: 'token_embd.weight', dims: [DIM, VOCAB], type: 16, data: new Uint8Array(66 * VOCAB) }]),
        {},
        /model\.gguf: tensor "token_embd\.weight": tensor type 16 \(IQ2_XXS\) is not supported for dequantization; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K$/,
      ],
      [
        testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM }),
        {},
        /cfg\.toml: \[model\]: no tokenizer\.json for the GGUF source "cfg" \(looked in .*\); set tokenizer_repo = "org\/original-model" \(the repo the GGUF was converted from\), or put its tokenizer\.json there$/,
        false,
      ],
      [
        writeGguf([], [{ name: 'output.weight', dims: [DIM, 2], type: GGML_TYPE.F32, data: new Uint8Array(DIM * 8) }]),
        {},
        /model\.gguf: no tensor "token_embd\.weight" in this GGUF file \(it has 1: output\.weight\)$/,
      ],
      [
        testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM, overrides: { truncate: 100 } }),
        {},
        /model\.gguf: invalid GGUF header: tensor "output_norm\.weight" \(F32 \[256\]\) spans bytes \d+-\d+ but the file has \d+; the file is damaged or not GGUF \(re-download it\)$/,
      ],
    ];
    for (const [bytes, model, message, tokenizer] of cases) {
      const dir = modelDir(bytes, tokenizer ?? true);
      const r = request(config(dir, { gguf: 'model.gguf', ...model }));
      await expect(extract(r)).rejects.toThrow(message);
      expect(existsSync(r.outDir!) ? readdirSync(r.outDir!) : []).toEqual([]);
    }
  });
});

describe('extract from a local GGUF file refuses non-finite rows', () => {
  /** A copy of `bytes` whose token-matrix row `row` starts with the f16 (or, for F32, the float) `bits`. */
  async function poke(bytes: Uint8Array, type: TestGgufType, row: number, bits: number): Promise<Uint8Array> {
    const out = bytes.slice();
    const embd = (await readGgufHeader(memorySource(out))).tensors.find((t) => t.name === 'token_embd.weight')!;
    const at = embd.fileOffset + row * ggufRowBytes(type, DIM);
    if (type === 'F32') new DataView(out.buffer).setUint32(at, bits, true);
    else new DataView(out.buffer).setUint16(at, bits, true); // a Q8_0 block starts with its f16 scale d
    return out;
  }
  const cases: [TestGgufType, FloatDType, number, number][] = [
    ['Q8_0', 'F16', 5, 0x7e00], // NaN scale: the whole block decodes to NaN
    ['Q8_0', 'F32', 299, 0x7e00],
    ['F32', 'F32', 7, 0x7f800000], // +Inf
  ];
  for (const [type, dtype, row, bits] of cases) {
    it(`${type} → ${dtype}: row ${row} broken, one line naming it, no output`, async () => {
      const dir = modelDir(await poke(testGguf({ type, vocab: VOCAB, dim: DIM }), type, row, bits));
      const r = request(config(dir, { gguf: 'model.gguf' }), { dtype });
      await expect(extract(r)).rejects.toThrow(
        /cfg\.safetensors: the source matrix is broken: 1 of 300 rows hold NaN or ±Inf \(first: row \d+\); nothing was written \(use another revision or source\)$/,
      );
      await expect(extract(r)).rejects.toThrow(`(first: row ${row})`);
      expect(existsSync(r.outDir!) ? readdirSync(r.outDir!) : []).toEqual([]);
    });
  }
});

describe('GGUF config keys', () => {
  const parse = (model: Record<string, unknown>, sources?: Record<string, unknown>[]) =>
    parseConfig({ model: { dim: DIM, n_vocab: VOCAB, pad_token: '<pad>', ...model }, ...(sources ? { sources } : {}) }, '/c/x.toml');

  it('gguf resolves against the config folder; gguf_file needs hf_model_id; contradictions are one line', () => {
    expect(parse({ gguf: 'models/q.gguf' }).sources[0]).toMatchObject({ name: 'x', gguf: '/c/models/q.gguf' });
    expect(parse({ hf_model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', gguf_file: 'qwen2.5-0.5b-instruct-q8_0.gguf' }).sources[0]).toMatchObject({
      hf_model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      gguf_file: 'qwen2.5-0.5b-instruct-q8_0.gguf',
    });
    const bad: [Record<string, unknown>, string][] = [
      [
        { gguf_file: 'a.gguf', path: 'x' },
        '/c/x.toml: [model] gguf_file: needs hf_model_id (the repo holding the file); for a local file set gguf = "path/to/model.gguf" instead',
      ],
      [{ gguf: 'a.gguf', path: 'x' }, '/c/x.toml: [model]: has path and gguf: give exactly one of hf_model_id, path, tfjs_model or gguf'],
      [
        { hf_model_id: 'o/r', gguf_file: '../a.gguf' },
        '/c/x.toml: [model] gguf_file: "../a.gguf" is not a .gguf file name inside the repo (e.g. "model-Q4_K_M.gguf")',
      ],
      [
        { hf_model_id: 'o/r', gguf_file: 'model.safetensors' },
        '/c/x.toml: [model] gguf_file: "model.safetensors" is not a .gguf file name inside the repo (e.g. "model-Q4_K_M.gguf")',
      ],
      [{ hf_model_id: 'o/r', tokenizer_repo: 'o/t' }, '/c/x.toml: [model] tokenizer_repo: only GGUF sources (gguf or gguf_file) take a tokenizer_repo'],
      [{ gguf: 'a.gguf', tokenizer_repo: 'not a repo' }, '/c/x.toml: [model] tokenizer_repo: "not a repo" is not a hub repo id like "Qwen/Qwen2.5-0.5B"'],
      [
        { gguf: 'a.gguf', sentencepiece_vocab: 'v.json' },
        '/c/x.toml: [model] sentencepiece_vocab: is for TF.js sources; a GGUF source takes its tokenizer from a tokenizer.json (beside the file, in the repo, or tokenizer_repo)',
      ],
      [{ gguf: 1 }, '/c/x.toml: [model] gguf: expected a string, got 1'],
    ];
    for (const [model, message] of bad) expect(() => parse(model)).toThrow(message);
  });

  it('a GGUF source mixes with safetensors sources in [[sources]]', () => {
    const c = parse({ dim: undefined }, [
      { hf_model_id: 'Qwen/Qwen2.5-0.5B', dim: 896 },
      { name: 'q8', hf_model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', gguf_file: 'qwen2.5-0.5b-instruct-q8_0.gguf', dim: 896 },
      { name: 'local', gguf: 'l.gguf', dim: 896 },
    ]);
    expect(c.sources.map((s) => [s.name, s.gguf_file ?? s.gguf ?? null])).toEqual([
      ['Qwen2.5-0.5B', null],
      ['q8', 'qwen2.5-0.5b-instruct-q8_0.gguf'],
      ['local', '/c/l.gguf'],
    ]);
    expect(c.dim).toBe(896 * 3);
    expect(() => parse({ dim: undefined, gguf_file: 'a.gguf' }, [{ gguf: 'l.gguf', dim: 896 }])).toThrow(
      '/c/x.toml: [model] gguf_file: set per source in [[sources]] when a config has several sources',
    );
  });
});
