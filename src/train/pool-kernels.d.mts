type Ints = ArrayLike<number>;
type Floats = { [i: number]: number; readonly length: number };
export function poolSentences<T extends Floats>(offsets: Ints, local: Ints, rowIds: Ints | null | undefined, rows: ArrayLike<number>, dim: number, coef: ArrayLike<number>, s0: number, s1: number, out: T): T;
export function tokenDots<T extends Floats>(offsets: Ints, local: Ints, rows: ArrayLike<number>, dim: number, gradPooled: ArrayLike<number>, s0: number, s1: number, g: T): T;
