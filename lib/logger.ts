import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs on stderr: JSON for programs reading a pipe, readable lines for a person
 * at a terminal.
 */
export function createLogger(name: string, level = 'info'): Logger {
  const toTerminal = process.stderr.isTTY;
  return pino(
    { name, level },
    toTerminal
      ? pino.transport({
          target: 'pino-pretty',
          options: { destination: 2, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
        })
      : pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
