import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  access,
  chmod,
  copyFile,
  mkdtemp,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BerthError, describeError } from '../../contracts/index.ts';

/**
 * The certificates of a fleet's TLS, made by the `openssl` command: a CA, a certificate per
 * NATS node naming it, and optionally one per role for mutual TLS. Keys are P-256, written
 * 0600 into a private folder and only then moved beside the configuration.
 */

/** A certificate and its private key, as files. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What a certificate is for: a NATS node (server and route client) or a client. */
type Usage = 'node' | 'client';

const CA_DAYS = 3650;
/** The longest validity clients accept for a leaf certificate. */
const LEAF_DAYS = 825;
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Runs openssl; a failure is an error with what openssl said, which never holds a key. */
async function openssl(args: readonly string[], what: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('openssl', args);
    return stdout;
  } catch (error) {
    const said = ((error as { stderr?: string }).stderr ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && line !== '-----')
      .join('; ');
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `openssl could not ${what}: ${said === '' ? describeError(error) : said}`,
      { cause: error },
    );
  }
}

/** Whether a file is there. */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Makes files in a private folder of dir, then moves them to their names in dir. */
async function writePrivately(
  dir: string,
  make: (scratch: string) => Promise<readonly (readonly [string, string])[]>,
): Promise<void> {
  const scratch = await mkdtemp(join(dir, '.tls-'));
  try {
    for (const [made, target] of await make(scratch)) {
      await chmod(join(scratch, made), made.endsWith('.key') ? 0o600 : 0o644);
      await rename(join(scratch, made), join(dir, target));
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The fleet's CA in dir (ca.crt, ca.key): the one there, else a new one. */
export async function ensureCa(dir: string): Promise<CertificateFiles & { created: boolean }> {
  const files = { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
  const [cert, key] = await Promise.all([exists(files.certFile), exists(files.keyFile)]);
  if (cert && key) return { ...files, created: false };
  if (cert || key) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `${cert ? files.certFile : files.keyFile} is there without its pair; move it away to have a new CA made`,
    );
  }
  await writePrivately(dir, async (scratch) => {
    await openssl(
      [
        'req',
        '-x509',
        ...KEY_ARGS,
        '-keyout',
        join(scratch, 'ca.key'),
        '-out',
        join(scratch, 'ca.crt'),
        '-days',
        String(CA_DAYS),
        '-subj',
        '/CN=Berth fleet CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      'make the CA',
    );
    return [
      ['ca.key', 'ca.key'],
      ['ca.crt', 'ca.crt'],
    ];
  });
  return { ...files, created: true };
}

/** The subjectAltName of the names: an IP address as IP, anything else as DNS. */
function altNames(names: readonly string[]): string {
  return names
    .map((name) => {
      if (!/^[A-Za-z0-9.:*-]+$/.test(name)) {
        throw new BerthError('BERTH_ERR_PARAMETER', `"${name}" is not a host name or address`);
      }
      return `${isIP(name) === 0 ? 'DNS' : 'IP'}:${name}`;
    })
    .join(',');
}

export interface CertificateRequest {
  readonly ca: CertificateFiles;
  /** Folder the certificate is written to, as <base>.crt and <base>.key. */
  readonly dir: string;
  readonly base: string;
  readonly commonName: string;
  readonly usage: Usage;
  /** Names and addresses a node is reached by. */
  readonly names?: readonly string[];
  /** Days it is valid from now; negative makes one already expired. */
  readonly days?: number;
}

/** A certificate the CA signs, with its new key. */
export async function issueCertificate(request: CertificateRequest): Promise<CertificateFiles> {
  const extensions = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    // A node is a server to clients and to routes, and a client on the routes it opens.
    `extendedKeyUsage=${request.usage === 'node' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
    ...(request.names === undefined || request.names.length === 0
      ? []
      : [`subjectAltName=${altNames(request.names)}`]),
  ];
  await writePrivately(request.dir, async (scratch) => {
    await writeFile(join(scratch, 'extensions'), `${extensions.join('\n')}\n`);
    await openssl(
      [
        'req',
        '-new',
        ...KEY_ARGS,
        '-keyout',
        join(scratch, 'leaf.key'),
        '-out',
        join(scratch, 'leaf.csr'),
        '-subj',
        `/CN=${request.commonName.replace(/[/\\=+,]/g, '-')}`,
      ],
      `make the key of ${request.base}`,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        join(scratch, 'leaf.csr'),
        '-CA',
        request.ca.certFile,
        '-CAkey',
        request.ca.keyFile,
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        String(request.days ?? LEAF_DAYS),
        '-extfile',
        join(scratch, 'extensions'),
        '-out',
        join(scratch, 'leaf.crt'),
      ],
      `sign the certificate of ${request.base}`,
    );
    return [
      ['leaf.key', `${request.base}.key`],
      ['leaf.crt', `${request.base}.crt`],
    ];
  });
  return {
    certFile: join(request.dir, `${request.base}.crt`),
    keyFile: join(request.dir, `${request.base}.key`),
  };
}

/** The flags an operator gives their own TLS files with. */
export interface OwnTlsFlags {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * Copies an operator's CA, certificate and key into dir (ca.crt, and <base>.crt/.key for each
 * base), once checked: the CA signed the certificate, it is in its validity, and the key is
 * the certificate's.
 */
export async function copyOwnTls(
  flags: OwnTlsFlags,
  dir: string,
  bases: readonly string[],
): Promise<void> {
  const opened = async (flag: string, path: string): Promise<void> => {
    try {
      await readFile(path);
    } catch (error) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `${flag}: cannot read ${path}: ${describeError(error)}`,
      );
    }
  };
  await opened('--tls-ca', flags.ca);
  await opened('--tls-cert', flags.cert);
  await opened('--tls-key', flags.key);
  await openssl(
    ['verify', '-CAfile', flags.ca, flags.cert],
    `check that --tls-ca ${flags.ca} signed --tls-cert ${flags.cert} and that it is valid now`,
  );
  const certKey = await openssl(
    ['x509', '-in', flags.cert, '-noout', '-pubkey'],
    `read --tls-cert ${flags.cert}`,
  );
  const ownKey = await openssl(
    ['pkey', '-in', flags.key, '-pubout'],
    `read --tls-key ${flags.key}`,
  );
  if (certKey.trim() !== ownKey.trim()) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `--tls-key ${flags.key} is not the key of --tls-cert ${flags.cert}`,
    );
  }
  await writePrivately(dir, async (scratch) => {
    await copyFile(flags.ca, join(scratch, 'ca.crt'));
    const moves: (readonly [string, string])[] = [['ca.crt', 'ca.crt']];
    for (const base of bases) {
      await copyFile(flags.cert, join(scratch, `${base}.crt`));
      await copyFile(flags.key, join(scratch, `${base}.key`));
      moves.push([`${base}.crt`, `${base}.crt`], [`${base}.key`, `${base}.key`]);
    }
    return moves;
  });
}
