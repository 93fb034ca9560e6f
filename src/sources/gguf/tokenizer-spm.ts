/**
 * BPE merges for a sentencepiece-BPE vocabulary (GGUF `tokenizer.ggml.model = "llama"`) from its scores.
 *
 * llama.cpp's SPM tokenizer (src/llama-vocab.cpp, llm_tokenizer_spm_session) repeatedly joins the adjacent
 * pair whose concatenation is a vocabulary piece with the highest score, leftmost first. Hugging Face's
 * Llama tokenizer.json expresses the same as a BPE model whose merge list holds every split of every piece
 * into two pieces, ranked by the joined piece's score (transformers' SentencePieceExtractor); this module
 * rebuilds that list. Order: joined piece's score, highest first; equal scores by the joined piece's id; then
 * by the left and right pieces' ids. Checked against Llama-2's and Mistral's tokenizer.json: the same merge
 * set, in the same order, when the scores follow sentencepiece's order.
 */

/**
 * Every `[left, right]` such that left, right and left + right are mergeable pieces, in rank order.
 * `mergeable(id)` says which ids take part (ordinary and user-defined pieces: not control, byte or unknown tokens).
 * Splits fall on code-point boundaries, as the pieces are sequences of characters.
 */
export function mergesFromScores(tokens: readonly string[], scores: ArrayLike<number>, mergeable: (id: number) => boolean): [string, string][] {
  const idOf = new Map<string, number>();
  for (let id = 0; id < tokens.length; id++) {
    const piece = tokens[id]!;
    if (mergeable(id) && !idOf.has(piece)) idOf.set(piece, id);
  }
  const found: { left: number; right: number; joined: number }[] = [];
  for (const [piece, joined] of idOf) {
    let cut = 0;
    for (const ch of piece) {
      if (cut > 0) {
        const left = idOf.get(piece.slice(0, cut));
        const right = left === undefined ? undefined : idOf.get(piece.slice(cut));
        if (left !== undefined && right !== undefined) found.push({ left, right, joined });
      }
      cut += ch.length;
    }
  }
  found.sort((a, b) => scores[b.joined]! - scores[a.joined]! || a.joined - b.joined || a.left - b.left || a.right - b.right);
  return found.map((m) => [tokens[m.left]!, tokens[m.right]!]);
}
