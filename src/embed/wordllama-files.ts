/**
 * WordLlama's layout: one `<config>_<dim>.safetensors` per width (l2_supercat_256.safetensors ...) and no
 * config.json. Shared by the folder loader and the hub download, so both pick the same width.
 */

/** Files named `<prefix>_<dim>.safetensors` with one prefix, ascending by dim; undefined for any other set. */
export function wordllamaWidths(files: string[]): { file: string; dim: number }[] | undefined {
  const parsed = files.map((file) => ({ file, m: /^(.+)_(\d+)\.safetensors$/.exec(file) }));
  if (parsed.length < 2 || parsed.some((p) => !p.m || p.m[1] !== parsed[0]!.m![1])) return undefined;
  return parsed.map((p) => ({ file: p.file, dim: Number(p.m![2]) })).sort((a, b) => a.dim - b.dim);
}

/** The width asked for, else the smallest wider one, else the widest. */
export function pickWordllamaWidth(widths: { file: string; dim: number }[], dim?: number): string {
  return (widths.find((w) => dim !== undefined && w.dim >= dim) ?? widths[widths.length - 1]!).file;
}
