/** Small helpers over lists that the engine shares, each giving the same result on every machine. */

/** Code-unit order, the same on every machine whatever its locale. */
export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The distinct texts of a list, in code-unit order: `sort` with no comparison orders strings by
 * their UTF-16 code units, as `compareText` does, without calling back into JavaScript.
 */
export const sortedUnique = (values: readonly string[]): string[] => [...new Set(values)].sort();

/** The sum of a list, added in its order (0 for none). */
export const sum = (values: readonly number[]): number =>
  values.reduce((total, value) => total + value, 0);

/** The arithmetic mean of a list (NaN for none). */
export const mean = (values: readonly number[]): number => sum(values) / values.length;
