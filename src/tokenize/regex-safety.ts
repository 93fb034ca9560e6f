/**
 * Catastrophic backtracking in tokenizer regexes. A tokenizer.json from the hub is untrusted input, and its
 * normalizer/pre-tokenizer `Replace`/`Split` patterns run on every text through a backtracking engine: a pattern
 * like `(a+)+$` takes time exponential in the length of a run of `a`s (30 of them: minutes). Such patterns are
 * refused when the tokenizer is built, by a static look at the pattern's source:
 *
 * - **nested quantifiers** (star height 2): a group repeated more than once (`*`, `+`, `{n,}`, `{n,m}` with m > 1)
 *   that itself holds such a quantifier, e.g. `(a+)+`, `(?:\s*x)*`, `(\d{1,3})+`: the engine can split one run of
 *   input between the inner and the outer repetition in exponentially many ways;
 * - **ambiguous alternatives under repetition**: a repeated group whose alternatives can start with the same
 *   character, e.g. `(a|aa)+`, `(\w|\d)*`, `(.|\s)+` (each character can be taken by either branch). Alternatives
 *   are told apart only when each starts with a different plain character (`(?:ab|cd)+` passes); anything else
 *   (a class, an escape, a group, an empty branch) counts as ambiguous: the check errs on the side of refusing.
 *
 * Polynomial cases (adjacent overlapping quantifiers such as Llama-3's `\s*[\r\n]+`) pass: they cost O(n²) at
 * worst, and every text is cut to a bound derived from max_length before it is tokenized (model.ts).
 * The syntax read is the common subset of Oniguruma (what the Rust tokenizers compile) and JavaScript: groups of
 * every kind, classes (nested ones too), escapes (`\p{..}`, `\u{..}`, `\x{..}`, `\k<..>`), `{n,m}` quantifiers
 * with lazy/possessive suffixes. Pure, browser-safe.
 */

export interface RegexHazard {
  /** The offending part of the pattern, e.g. `(a+)+`. */
  fragment: string;
  /** Why it backtracks, in words. */
  reason: string;
}

interface Info {
  /** Holds a quantifier that repeats more than once. */
  repeats: boolean;
  /** Holds alternatives that can start with the same character. */
  ambiguous: boolean;
  /** The plain character the sequence must start with, or undefined when it may start otherwise (or be empty). */
  first: string | undefined;
}

class Found extends Error {
  constructor(readonly hazard: RegexHazard) {
    super(hazard.reason);
  }
}

/** The first construct of `source` that can backtrack catastrophically, or undefined when there is none. */
export function findBacktrackingHazard(source: string): RegexHazard | undefined {
  try {
    const p = new Parser(source);
    p.alternation();
    return undefined;
  } catch (err) {
    if (err instanceof Found) return err.hazard;
    throw err;
  }
}

const PLAIN = /[^\\()[\]{}|.*+?^$]/u;

class Parser {
  private i = 0;

  constructor(private readonly s: string) {}

  /** branch ('|' branch)* up to ')' or the end. */
  alternation(): Info {
    const branches: Info[] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    if (branches.length === 1) return branches[0]!;
    const firsts = branches.map((b) => b.first);
    const distinct = firsts.every((f) => f !== undefined) && new Set(firsts).size === firsts.length;
    return {
      repeats: branches.some((b) => b.repeats),
      ambiguous: !distinct || branches.some((b) => b.ambiguous),
      first: undefined,
    };
  }

  private sequence(): Info {
    const info: Info = { repeats: false, ambiguous: false, first: undefined };
    let atStart = true;
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const start = this.i;
      const atom = this.atom();
      const q = this.quantifier();
      if (q && q.max > 1 && (atom.repeats || atom.ambiguous)) {
        throw new Found({
          fragment: this.s.slice(start, this.i),
          reason: atom.repeats
            ? 'a repeated group holds another repetition (nested quantifiers)'
            : 'a repeated group holds alternatives that can match the same text',
        });
      }
      info.repeats ||= atom.repeats || (q !== undefined && q.max > 1);
      info.ambiguous ||= atom.ambiguous;
      if (atStart && atom.kind !== 'empty') {
        // A sequence starts with a known character only when its first atom is a plain one that must occur.
        info.first = q && q.min === 0 ? undefined : atom.first;
        atStart = false;
      }
    }
    return info;
  }

  private atom(): Info & { kind: 'char' | 'other' | 'empty' } {
    const s = this.s;
    const c = s[this.i]!;
    if (c === '(') {
      this.i++;
      if (s[this.i] === '?') {
        const flagsOnly = /^\?[a-zA-Z-]*\)/.exec(s.slice(this.i)); // (?i) sets flags, matches nothing
        if (flagsOnly) {
          this.i += flagsOnly[0].length;
          return { repeats: false, ambiguous: false, first: undefined, kind: 'empty' };
        }
        const prefix = /^\?(?::|=|!|<=|<!|>|<[A-Za-z_][A-Za-z0-9_]*>|'[A-Za-z_][A-Za-z0-9_]*'|P<[A-Za-z_][A-Za-z0-9_]*>|[a-zA-Z-]*:)/.exec(s.slice(this.i));
        if (prefix) this.i += prefix[0].length;
      }
      const inner = this.alternation();
      if (s[this.i] === ')') this.i++;
      return { ...inner, kind: 'other' };
    }
    if (c === '[') {
      this.skipClass();
      return { repeats: false, ambiguous: false, first: undefined, kind: 'other' };
    }
    if (c === '\\') {
      this.skipEscape();
      return { repeats: false, ambiguous: false, first: undefined, kind: 'other' };
    }
    // A code point (astral characters are one atom).
    const cp = String.fromCodePoint(s.codePointAt(this.i)!);
    this.i += cp.length;
    if (c === '^' || c === '$') return { repeats: false, ambiguous: false, first: undefined, kind: 'empty' };
    return { repeats: false, ambiguous: false, first: PLAIN.test(cp) ? cp : undefined, kind: PLAIN.test(cp) ? 'char' : 'other' };
  }

  /** `[...]`, with escapes and (Oniguruma) nested classes. */
  private skipClass(): void {
    const s = this.s;
    let depth = 0;
    do {
      const c = s[this.i];
      if (c === '\\') {
        this.i += 2;
        continue;
      }
      if (c === '[') {
        depth++;
        this.i++;
        if (s[this.i] === '^') this.i++;
        if (s[this.i] === ']') this.i++; // a leading ] is literal
        continue;
      }
      if (c === ']') depth--;
      this.i++;
    } while (depth > 0 && this.i < s.length);
  }

  private skipEscape(): void {
    const rest = this.s.slice(this.i);
    const m = /^\\(?:[pP]\{[^}]*\}|[ux]\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|k<[^>]*>|c[A-Za-z]|.)/su.exec(rest);
    this.i += m ? m[0].length : 1;
  }

  /** A quantifier after an atom: its repetition bounds, or undefined (a `{` that is not one is a literal). */
  private quantifier(): { min: number; max: number } | undefined {
    const s = this.s;
    const c = s[this.i];
    let q: { min: number; max: number } | undefined;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) this.i++;
    else if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(s.slice(this.i));
      if (!m || (m[1] === '' && m[3] === '')) return undefined;
      const min = m[1] === '' ? 0 : Number(m[1]);
      q = { min, max: m[2] === '' ? min : m[3] === '' ? Infinity : Number(m[3]) };
      this.i += m[0].length;
    } else return undefined;
    if (s[this.i] === '?' || s[this.i] === '+') this.i++; // lazy / possessive
    return q;
  }
}

interface PatternNode {
  type?: string;
  pattern?: { Regex?: unknown };
  [k: string]: unknown;
}

/** Every regex pattern (`pattern.Regex`) under a tokenizer.json section, with where it sits. */
function* regexPatterns(node: unknown, where: string): Generator<{ where: string; type: string; regex: string }> {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) yield* regexPatterns(node[i], `${where}[${i}]`);
    return;
  }
  const n = node as PatternNode;
  if (n.pattern && typeof n.pattern === 'object' && typeof n.pattern.Regex === 'string') {
    yield { where, type: String(n.type ?? 'pattern'), regex: n.pattern.Regex };
  }
  for (const [k, v] of Object.entries(n)) if (k !== 'pattern' && v && typeof v === 'object') yield* regexPatterns(v, `${where}.${k}`);
}

/** Sections of a tokenizer.json whose regexes run on text (the decoder's run on decoded pieces). */
const REGEX_SECTIONS = ['normalizer', 'pre_tokenizer', 'decoder'] as const;

/**
 * The first regex of a tokenizer.json that can backtrack catastrophically, with its location
 * (`pre_tokenizer.pretokenizers[0]`) and type (`Split`), or undefined when all are safe.
 */
export function findTokenizerRegexHazard(json: Record<string, unknown>): (RegexHazard & { where: string; type: string; regex: string }) | undefined {
  for (const section of REGEX_SECTIONS) {
    for (const p of regexPatterns(json[section], section)) {
      const hazard = findBacktrackingHazard(p.regex);
      if (hazard) return { ...hazard, ...p };
    }
  }
  return undefined;
}
