import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth, spawnBerth, type BerthProcess } from '../../support/cli.ts';
import { goodQuestion } from '../../support/advisor.ts';
import { cleanUp, removeDir, startTestNats, tempDir } from '../../support/servers.ts';

const openssl = (args: readonly string[], cwd: string): Promise<unknown> =>
  promisify(execFile)('openssl', args, { cwd });

/** A test CA, a server certificate for 127.0.0.1 and a client certificate it signs. */
async function makeCertificates(dir: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=berth-test-ca',
    ].concat(['-keyout', 'ca.key', '-out', 'ca.crt']),
    dir,
  );
  // A client certificate signed by no CA the advisor knows.
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=stranger'].concat(
      ['-keyout', 'stranger.key', '-out', 'stranger.crt'],
    ),
    dir,
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subject] of [
    ['server', '/CN=127.0.0.1'],
    ['client', '/CN=berth-test-client'],
  ] as const) {
    await openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject].concat([
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      ]),
      dir,
    );
    await openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key']
        .concat(['-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`])
        .concat(['-out', `${name}.crt`]),
      dir,
    );
  }
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** GET over HTTPS; rejects when the handshake fails. */
function httpsGet(
  url: string,
  options: { ca: Buffer; cert?: Buffer; key?: Buffer; token?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        ca: options.ca,
        ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
        headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
        timeout: 5_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** GET over plain HTTP; rejects when the server does not speak it. */
function httpGet(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = get(url, { timeout: 5_000 }, (response) => {
      response.resume();
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: '' });
      });
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('no answer')));
    outgoing.on('error', reject);
  });
}

describe('the advisor over TLS', () => {
  let dir: string;
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  const running: BerthProcess[] = [];
  const file = (name: string): string => join(dir, name);
  const read = (name: string): Buffer => readFileSync(file(name));

  const startAdvisor = async (
    name: string,
    env: Readonly<Record<string, string>>,
  ): Promise<string> => {
    const advisor = spawnBerth(['advisor'], {
      NATS_URL: nats.url,
      BERTH_DATA_DIR: join(dir, name),
      BERTH_ADVISOR_PORT: '0',
      ...env,
    });
    running.push(advisor);
    const ready = await advisor.waitForLine(/advisor ready at/, 60_000);
    return /advisor ready at (\S+)/.exec(ready)?.[1] ?? '';
  };

  beforeAll(async () => {
    dir = await tempDir('advisor-tls');
    await makeCertificates(dir);
    nats = await startTestNats();
  }, 60_000);

  afterAll(async () => {
    for (const advisor of running) advisor.child.kill('SIGTERM');
    await Promise.all(running.map((advisor) => advisor.exited()));
    await cleanUp(
      () => nats.stop(),
      () => removeDir(dir),
    );
  });

  it('serves HTTPS with its certificate, not plain HTTP, and berth advise asks it over HTTPS', async () => {
    // The certificate with its chain up to the CA: berth advise trusts what the file holds.
    await writeFile(file('server-chain.crt'), Buffer.concat([read('server.crt'), read('ca.crt')]));
    const tls = {
      BERTH_ADVISOR_TLS_CERT: file('server-chain.crt'),
      BERTH_ADVISOR_TLS_KEY: file('server.key'),
    };
    const url = await startAdvisor('https', tls);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const health = await httpsGet(`${url}/healthz`, { ca: read('ca.crt') });
    expect(health.status).toBe(200);
    const page = await httpsGet(`${url}/`, { ca: read('ca.crt') });
    expect(page.body).toContain('<html');
    await expect(httpGet(`${url.replace('https:', 'http:')}/healthz`)).rejects.toThrow();

    await writeFile(file('question.json'), JSON.stringify(goodQuestion()));
    const advised = await runBerth(['advise', file('question.json')], {
      ...tls,
      NATS_URL: nats.url,
      BERTH_DATA_DIR: join(dir, 'https'),
      BERTH_ADVISOR_PORT: new URL(url).port,
    });
    expect(advised.code, advised.stderr).toBe(0);
    expect(advised.stdout).toContain(`(answered by the advisor at ${url})`);
  }, 90_000);

  it('with client CAs, off loopback and with no token, admits only clients with a certificate they signed', async () => {
    const url = await startAdvisor('mutual', {
      BERTH_ADVISOR_HOST: '0.0.0.0',
      BERTH_ADVISOR_TLS_CERT: file('server.crt'),
      BERTH_ADVISOR_TLS_KEY: file('server.key'),
      BERTH_ADVISOR_TLS_CLIENT_CA: file('ca.crt'),
    });
    const local = url.replace('0.0.0.0', '127.0.0.1');
    const hosts = await httpsGet(`${local}/v1/hosts`, {
      ca: read('ca.crt'),
      cert: read('client.crt'),
      key: read('client.key'),
    });
    expect(hosts.status).toBe(200);
    expect(JSON.parse(hosts.body)).toEqual({ hosts: [] });
    // Without a certificate, or with one the CA did not sign, the handshake fails.
    await expect(httpsGet(`${local}/v1/hosts`, { ca: read('ca.crt') })).rejects.toThrow();
    await expect(
      httpsGet(`${local}/v1/hosts`, {
        ca: read('ca.crt'),
        cert: read('stranger.crt'),
        key: read('stranger.key'),
      }),
    ).rejects.toThrow();
  }, 90_000);

  it('berth advise --cert/--key presents a client certificate to an advisor with client CAs', async () => {
    await writeFile(file('server-chain.crt'), Buffer.concat([read('server.crt'), read('ca.crt')]));
    const url = await startAdvisor('advise-mutual', {
      BERTH_ADVISOR_TLS_CERT: file('server-chain.crt'),
      BERTH_ADVISOR_TLS_KEY: file('server.key'),
      BERTH_ADVISOR_TLS_CLIENT_CA: file('ca.crt'),
    });
    await writeFile(file('question.json'), JSON.stringify(goodQuestion()));
    const advise = (args: readonly string[]): ReturnType<typeof runBerth> =>
      runBerth(['advise', file('question.json'), ...args], {
        BERTH_ADVISOR_TLS_CERT: file('server-chain.crt'),
        NATS_URL: nats.url,
        BERTH_DATA_DIR: join(dir, 'advise-client'),
        BERTH_ADVISOR_PORT: new URL(url).port,
      });
    const advised = await advise(['--cert', file('client.crt'), '--key', file('client.key')]);
    expect(advised.code, advised.stderr).toBe(0);
    expect(advised.stdout).toContain(`(answered by the advisor at ${url})`);

    // A certificate of another CA, or none, is refused in one line naming the setting: not
    // taken for an advisor that is not running.
    for (const [args, shown] of [
      [['--cert', file('stranger.crt'), '--key', file('stranger.key')], file('stranger.crt')],
      [[], 'not set'],
    ] as const) {
      const refused = await advise(args);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        new RegExp(
          `^berth: the advisor at ${url} refused this client's certificate \\(setting --cert / BERTH_ADVISOR_CLIENT_CERT, ${shown}\\): [^\\n]+ \\[BERTH_ERR_CONFIG\\]\\n$`,
        ),
      );
      expect(refused.stderr).not.toContain('PRIVATE KEY');
    }
    const half = await advise(['--cert', file('client.crt')]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain(
      'a client certificate needs both --cert / BERTH_ADVISOR_CLIENT_CERT and --key / BERTH_ADVISOR_CLIENT_KEY',
    );
  }, 90_000);

  it('refuses half a TLS setting, or a file it cannot read, naming the setting', async () => {
    for (const [env, message] of [
      [
        { BERTH_ADVISOR_TLS_CERT: file('server.crt') },
        'TLS needs both --tls-cert / BERTH_ADVISOR_TLS_CERT and --tls-key / BERTH_ADVISOR_TLS_KEY',
      ],
      [
        { BERTH_ADVISOR_TLS_CLIENT_CA: file('ca.crt') },
        '--tls-client-ca / BERTH_ADVISOR_TLS_CLIENT_CA asks clients for certificates, which needs TLS',
      ],
      [
        {
          BERTH_ADVISOR_TLS_CERT: file('missing.crt'),
          BERTH_ADVISOR_TLS_KEY: file('server.key'),
        },
        `cannot read ${file('missing.crt')} (setting --tls-cert / BERTH_ADVISOR_TLS_CERT)`,
      ],
    ] as const) {
      const run = await runBerth(['advisor'], {
        ...env,
        NATS_URL: nats.url,
        BERTH_DATA_DIR: join(dir, 'refused'),
        BERTH_ADVISOR_PORT: '0',
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  }, 90_000);
});
