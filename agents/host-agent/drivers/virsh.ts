import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BerthError } from '../../../contracts/index.ts';

/**
 * One long-lived `virsh -c <uri>` shell: commands are written to its standard input and each
 * reply is read back. One session keeps one libvirt connection, which matters where the
 * connection holds the state (libvirt's test driver forgets its domains when it closes).
 */
export interface VirshSession {
  /** Runs one virsh command; resolves with what it printed, rejects with virsh's error. */
  run(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Ends the shell and waits for it to exit; nothing is left running. */
  close(): Promise<void>;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 30_000;

/** A URI as messages and results show it: a password in it is replaced by ***. */
export function shownUri(uri: string): string {
  return uri.replace(/^([^:]+:\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}

const SAFE_ARG = /^[A-Za-z0-9_.,:/=+@%-]+$/;

/** One argument as virsh's command parser reads it back (shell-like single quotes). */
export function quoteVirshArg(arg: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(arg)) {
    throw new Error(`a virsh argument cannot hold control characters: ${JSON.stringify(arg)}`);
  }
  return SAFE_ARG.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/**
 * What a command printed, from its stdout region. virsh echoes every line it reads (prompt and
 * line; readline may scroll a long line but ends it with \n) and prints \n after each
 * command, so the region is: <echo of the command>\n <output>\n <echo of the stderr marker
 * command>\n\n <echo of the stdout marker command>\n. The marker commands are short, so their
 * echo is never scrolled and is found as written.
 */
function commandOutput(region: string, errMarkerCommand: string): string {
  const markerLine = region.lastIndexOf('\n', region.lastIndexOf(errMarkerCommand)) + 1;
  const output = region.slice(region.indexOf('\n') + 1, markerLine);
  return output.endsWith('\n') ? output.slice(0, -1) : output;
}

/** The error lines virsh printed for a command, or undefined when it printed none. */
function commandError(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  return lines.some((line) => line.startsWith('error:')) ? lines.join('\n') : undefined;
}

/**
 * Starts `virsh -c <uri>` as an interactive shell and waits until it is connected. Each
 * command is followed by `echo --err <marker>` and `echo <marker>`, so its reply on stdout
 * and its errors on stderr end at markers that cannot be confused with anything it prints
 * (the marker is written quoted, so virsh's echo of the command line never contains it).
 * Commands run one at a time, in the order they are asked for.
 */
export async function openVirshSession(uri: string): Promise<VirshSession> {
  const shown = shownUri(uri);
  const nonce = `berth${randomBytes(6).toString('hex')}`;
  const child = spawn('virsh', ['-c', uri], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Messages in English for the error lines; no terminal, so no escape sequences.
    env: { ...process.env, LC_ALL: 'C', LANG: 'C', TERM: 'dumb' },
  });
  child.stdin.on('error', () => undefined);
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  let stdout = '';
  let stderr = '';
  let exit: Error | undefined;
  let wake: () => void = () => undefined;
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    wake();
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    wake();
  });
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      exit =
        error.code === 'ENOENT'
          ? new BerthError(
              'BERTH_ERR_MISSING_PROGRAM',
              'virsh is not installed (apt-get install libvirt-clients)',
            )
          : new BerthError('BERTH_ERR_VIRSH', `virsh cannot be started: ${error.message}`);
      resolve();
      wake();
    });
    // 'close' comes after the last of its output has been read, unlike 'exit'.
    child.once('close', (code, signal) => {
      const said = stderr.trim();
      exit ??= new BerthError(
        'BERTH_ERR_VIRSH',
        `virsh -c ${shown} exited (${code ?? signal ?? 'unknown'})${said === '' ? '' : `: ${said}`}`,
      );
      resolve();
      wake();
    });
  });

  let sequence = 0;
  /** Writes a command and its markers; resolves with its stdout region and stderr. */
  const exchange = async (
    line: string,
    timeoutMs: number,
  ): Promise<{ output: string; errors: string }> => {
    sequence += 1;
    const marker = `${nonce}-${sequence}`;
    const quoted = `'${nonce}'-${sequence}`;
    const outEnd = `${marker}\n`;
    const errEnd = `error: ${marker}\n`;
    const errMarkerCommand = `echo --err ${quoted}`;
    child.stdin.write(`${line}\n${errMarkerCommand}\necho ${quoted}\n`);
    const deadline = setTimeout(() => {
      exit ??= new BerthError(
        'BERTH_ERR_VIRSH',
        `virsh -c ${shown}: no reply to "${line}" in ${timeoutMs} ms`,
      );
      child.kill('SIGKILL');
      wake();
    }, timeoutMs);
    try {
      for (;;) {
        const outAt = stdout.indexOf(outEnd);
        const errAt = stderr.indexOf(errEnd);
        if (outAt >= 0 && errAt >= 0) {
          const reply = {
            output: commandOutput(stdout.slice(0, outAt), errMarkerCommand),
            errors: stderr.slice(0, errAt),
          };
          stdout = stdout.slice(outAt + outEnd.length);
          stderr = stderr.slice(errAt + errEnd.length);
          return reply;
        }
        if (exit !== undefined) throw exit;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      clearTimeout(deadline);
    }
  };

  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(work: () => Promise<T>): Promise<T> => {
    const result = queue.then(work, work);
    queue = result.catch(() => undefined);
    return result;
  };

  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };

  try {
    // virsh connects before it reads its first command, and exits if it cannot.
    const hello = await exchange('uri', CONNECT_TIMEOUT_MS);
    const failed = commandError(hello.errors);
    if (failed !== undefined)
      throw new BerthError('BERTH_ERR_VIRSH', `virsh -c ${shown}: ${failed}`);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }

  return {
    run: (args, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS) =>
      serialised(async () => {
        const line = args.map(quoteVirshArg).join(' ');
        const { output, errors } = await exchange(line, timeoutMs);
        const failed = commandError(errors);
        if (failed !== undefined) {
          throw new BerthError('BERTH_ERR_VIRSH', `virsh -c ${shown} ${line}: ${failed}`);
        }
        return output;
      }),
    close: () => serialised(close),
  };
}

/** One session shared by whoever needs it at the moment: opened on demand, closed when unused. */
export interface SharedVirshSession {
  acquire(): Promise<VirshSession>;
  release(): Promise<void>;
}

/**
 * A session opened when the first user acquires it and closed when the last one releases it,
 * so nothing runs between instances. With `given`, that session is used and never closed (its
 * owner closes it).
 */
export function sharedVirshSession(uri: string, given?: VirshSession): SharedVirshSession {
  if (given !== undefined) {
    return { acquire: () => Promise.resolve(given), release: () => Promise.resolve() };
  }
  let users = 0;
  let session: Promise<VirshSession> | undefined;
  return {
    acquire: async () => {
      users += 1;
      session ??= openVirshSession(uri);
      try {
        return await session;
      } catch (error) {
        users -= 1;
        session = undefined;
        throw error;
      }
    },
    release: async () => {
      users -= 1;
      if (users > 0 || session === undefined) return;
      const closing = session;
      session = undefined;
      await (await closing).close();
    },
  };
}
