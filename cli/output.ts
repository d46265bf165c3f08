/** Prints rows as an aligned table for people, or as JSON with --json for programs. */
export function printTable(
  rows: readonly Record<string, string | number | boolean | null>[],
  asJson: boolean,
): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const first = rows[0];
  if (first === undefined) {
    process.stdout.write('(none)\n');
    return;
  }
  const columns = Object.keys(first);
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? '')));
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...cells.map((line) => (line[index] ?? '').length)),
  );
  const format = (line: readonly string[]): string =>
    line
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [
    format(columns),
    format(widths.map((width) => '-'.repeat(width))),
    ...cells.map(format),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
