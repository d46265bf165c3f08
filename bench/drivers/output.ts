/** A line of the report, on standard output. */
export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A line of progress, on standard error. */
export function progress(line: string): void {
  process.stderr.write(`drivers: ${line}\n`);
}

/** Bytes as decimal megabytes, as the targets are given. */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A fraction as a percentage with two decimals. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

/** Whether a target was met, in the report's words. */
export function verdict(met: boolean): string {
  return met ? 'met' : 'missed';
}
