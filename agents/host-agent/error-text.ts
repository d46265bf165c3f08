/** The message of a thrown value, for a line of progress or a result's note. */
export const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
