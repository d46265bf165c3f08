import { isAbsolute, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import {
  loadConfig,
  optionKey,
  settingLabel,
  SETTINGS,
  type SettingName,
} from '../../lib/config.ts';

/** The message of the BERTH_ERR_CONFIG a call throws. */
function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('BERTH_ERR_CONFIG');
    return (error as BerthError).message;
  }
  throw new Error('expected a configuration error');
}

/** The listed problems, one per line. */
function problemLines(message: string): string[] {
  return message
    .split('\n')
    .slice(1)
    .map((line) => line.replace(/^ {2}- /, ''));
}

describe('loadConfig', () => {
  it('gives the defaults when nothing is set', () => {
    const config = loadConfig(
      ['natsUrl', 'batchSize', 'clickhouseUrl', 'clickhouseDatabase', 'metricsPort', 'logLevel'],
      {},
      {},
    );
    expect(config).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      batchSize: 5000,
      clickhouseUrl: undefined,
      clickhouseDatabase: 'berth',
      metricsPort: 9464,
      logLevel: 'info',
    });
    expect(config.natsUrl).toBe(SETTINGS.natsUrl.defaultValue);
  });

  it('reads only the settings asked for', () => {
    expect(Object.keys(loadConfig(['batchSize'], {}, { NATS_URL: 'nope' }))).toEqual(['batchSize']);
  });

  it('reads the environment and parses what it reads', () => {
    expect(
      loadConfig(
        ['natsUrl', 'batchSize', 'dataDir', 'clickhouseUrl', 'logLevel'],
        {},
        {
          NATS_URL: 'nats://10.0.0.1:4222',
          BERTH_INGEST_BATCH_SIZE: ' 100 ',
          BERTH_DATA_DIR: 'relative/dir',
          CLICKHOUSE_URL: 'http://127.0.0.1:8123',
          BERTH_LOG_LEVEL: 'debug',
        },
      ),
    ).toEqual({
      natsUrl: 'nats://10.0.0.1:4222',
      batchSize: 100,
      dataDir: resolve('relative/dir'),
      clickhouseUrl: 'http://127.0.0.1:8123',
      logLevel: 'debug',
    });
  });

  it('gives every path setting as an absolute path, its default too', () => {
    const config = loadConfig(['dataDir'], {}, {});
    expect(isAbsolute(config.dataDir)).toBe(true);
    expect(config.dataDir).toBe(resolve('.berth'));
    const paths = (Object.keys(SETTINGS) as SettingName[]).filter((name) =>
      /<(path|file)>$/.test(SETTINGS[name].flag),
    );
    expect(paths.length).toBeGreaterThan(3);
    for (const name of paths) {
      const value: unknown = loadConfig([name], { [optionKey(name)]: 'some/where' }, {})[name];
      expect(value, name).toBe(resolve('some/where'));
    }
  });

  it('lets a flag win over the environment, and counts an empty variable as unset', () => {
    const env = {
      NATS_URL: 'nats://10.0.0.1:4222',
      BERTH_INGEST_BATCH_SIZE: '100',
      BERTH_METRICS_PORT: 'not a port',
      CLICKHOUSE_URL: '',
    };
    expect(
      loadConfig(
        ['natsUrl', 'batchSize', 'metricsPort', 'clickhouseUrl'],
        { batchSize: '7', metricsPort: '0', natsUrl: 'nats://10.0.0.2:4222' },
        env,
      ),
    ).toEqual({
      natsUrl: 'nats://10.0.0.2:4222',
      batchSize: 7,
      // The broken variable is not read at all when the flag is given.
      metricsPort: 0,
      clickhouseUrl: undefined,
    });
    // Commander leaves an option it did not see as undefined: the environment is used.
    expect(loadConfig(['batchSize'], { batchSize: undefined }, env)).toEqual({ batchSize: 100 });
  });

  it('names a setting by its flag and its environment variable', () => {
    expect(settingLabel('metricsPort')).toBe('--metrics-port / BERTH_METRICS_PORT');
    expect(optionKey('clickhouseDatabase')).toBe('clickhouseDatabase');
    expect(optionKey('maxMessageBytes')).toBe('maxMessageBytes');
  });

  it("reads berth up's agent switch from --no-agent or BERTH_AGENT, and its lists", () => {
    expect(optionKey('agent')).toBe('agent');
    expect(settingLabel('agent')).toBe('--no-agent / BERTH_AGENT');
    const names = ['agent', 'agentSuite', 'agentPlatforms', 'agentWorkloads'] as const;
    expect(loadConfig(names, { agent: true }, {})).toEqual({
      agent: true,
      agentSuite: 'quick',
      agentPlatforms: [],
      agentWorkloads: [],
    });
    // Commander gives true when --no-agent is absent: the environment decides then.
    expect(loadConfig(['agent'], { agent: true }, { BERTH_AGENT: 'off' })).toEqual({
      agent: false,
    });
    expect(loadConfig(['agent'], { agent: false }, { BERTH_AGENT: 'on' })).toEqual({
      agent: false,
    });
    expect(
      loadConfig(
        names,
        {},
        {
          BERTH_AGENT: 'Yes',
          BERTH_AGENT_SUITE: 'none',
          BERTH_AGENT_PLATFORMS: 'process, container:runc,',
          BERTH_AGENT_WORKLOADS: 'cpu-sha256',
        },
      ),
    ).toEqual({
      agent: true,
      agentSuite: 'none',
      agentPlatforms: ['process', 'container:runc'],
      agentWorkloads: ['cpu-sha256'],
    });
    expect(
      problemLines(
        problemsOf(() => loadConfig(names, { agentSuite: 'huge' }, { BERTH_AGENT: 'maybe' })),
      ),
    ).toEqual([
      '--no-agent / BERTH_AGENT must be on or off (true/false, yes/no, 1/0), got "maybe"',
      '--agent-suite / BERTH_AGENT_SUITE must be one of quick, full, none, got "huge"',
    ]);
  });

  it('lists every problem at once, each by flag and environment variable', () => {
    const message = problemsOf(() =>
      loadConfig(
        [
          'metricsPort',
          'batchSize',
          'natsUrl',
          'clickhouseUrl',
          'clickhouseDatabase',
          'logLevel',
          'maxMessageBytes',
          'dataDir',
        ],
        { metricsPort: '99999', maxMessageBytes: '12.5' },
        {
          BERTH_INGEST_BATCH_SIZE: 'many',
          NATS_URL: 'http://127.0.0.1:4222',
          CLICKHOUSE_URL: 'http://127.0.0.1:0',
          CLICKHOUSE_DATABASE: 'berth; DROP',
          BERTH_LOG_LEVEL: 'loud',
          BERTH_DATA_DIR: '/tmp/fine',
        },
      ),
    );
    expect(message.split('\n')[0]).toBe('bad configuration:');
    expect(problemLines(message)).toEqual([
      '--metrics-port / BERTH_METRICS_PORT must be from 0 to 65535, got 99999',
      '--batch-size / BERTH_INGEST_BATCH_SIZE must be a whole number, got "many"',
      '--nats-url / NATS_URL must start with nats: or tls: or ws: or wss:, got "http:"',
      '--clickhouse-url / CLICKHOUSE_URL has port 0, which cannot be reached',
      '--clickhouse-database / CLICKHOUSE_DATABASE must be a plain name (letters, digits, _), got "berth; DROP"',
      '--log-level / BERTH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"',
      '--max-message-bytes / BERTH_INGEST_MAX_MESSAGE_BYTES must be a whole number, got "12.5"',
    ]);
  });

  it.each([
    ['batchSize', '0', 'must be from 1 to 100000, got 0'],
    ['batchSize', '100001', 'must be from 1 to 100000, got 100001'],
    ['batchSize', '1e3', 'must be a whole number, got "1e3"'],
    ['batchSize', '0x10', 'must be a whole number, got "0x10"'],
    ['metricsPort', '-1', 'must be from 0 to 65535, got -1'],
    ['metricsPort', '65536', 'must be from 0 to 65535, got 65536'],
    ['natsUrl', 'nats://a:4222,nope', 'is not a URL: "nope"'],
    ['natsUrl', 'nats://127.0.0.1:0', 'has port 0, which cannot be reached'],
    ['natsUrl', 'nats://127.0.0.1:99999', 'is not a URL: "nats://127.0.0.1:99999"'],
    ['clickhouseUrl', 'ftp://127.0.0.1:8123', 'must start with http: or https:, got "ftp:"'],
    ['clickhouseUrl', 'localhost:8123', 'must start with http: or https:, got "localhost:"'],
    ['clickhouseDatabase', 'a.b', 'must be a plain name (letters, digits, _), got "a.b"'],
    ['clickhouseDatabase', '`x`', 'must be a plain name (letters, digits, _), got "`x`"'],
  ] as const)('refuses %s %j: %s', (name, raw, problem) => {
    const message = problemsOf(() => loadConfig([name], { [optionKey(name)]: raw }, {}));
    expect(problemLines(message)).toEqual([`${settingLabel(name)} ${problem}`]);
  });

  it('takes a libvirt URI of the qemu, xen or test driver, and refuses others', () => {
    expect(loadConfig(['libvirtUri'], {}, {})).toEqual({ libvirtUri: 'qemu:///system' });
    for (const uri of ['test:///default', 'xen:///system', 'qemu+ssh://root@host/system']) {
      expect(loadConfig(['libvirtUri'], {}, { BERTH_LIBVIRT_URI: uri })).toEqual({
        libvirtUri: uri,
      });
    }
    for (const uri of ['lxc:///', 'qemu:/system', 'qemu:///sys tem', '/var/run/libvirt']) {
      expect(
        problemLines(problemsOf(() => loadConfig(['libvirtUri'], { libvirtUri: uri }, {}))),
      ).toEqual([
        `--libvirt-uri / BERTH_LIBVIRT_URI must be a libvirt URI of the qemu, xen or test driver (qemu:///system, xen:///system, test:///default), got "${uri}"`,
      ]);
    }
    const message = problemsOf(() =>
      loadConfig(['libvirtUri'], {}, { BERTH_LIBVIRT_URI: 'lxc+ssh://root:Hunter2@host/' }),
    );
    expect(message).not.toContain('Hunter2');
    expect(message).toContain('got "lxc+ssh://***@host/"');
  });

  it('accepts several NATS servers and checks each', () => {
    expect(loadConfig(['natsUrl'], {}, { NATS_URL: 'nats://a:4222, tls://b:4222' })).toEqual({
      natsUrl: 'nats://a:4222, tls://b:4222',
    });
  });

  it('never repeats a secret in a message', () => {
    const secret = 's3cret-Hunter2';
    const config = loadConfig(['clickhousePassword'], {}, { CLICKHOUSE_PASSWORD: secret });
    expect(config.clickhousePassword).toBe(secret);
    const messages = [
      problemsOf(() =>
        loadConfig(
          ['clickhousePassword', 'batchSize'],
          { clickhousePassword: secret },
          { CLICKHOUSE_PASSWORD: secret, BERTH_INGEST_BATCH_SIZE: '0' },
        ),
      ),
      // Credentials inside URLs that are wrong in other ways.
      problemsOf(() =>
        loadConfig(['clickhouseUrl'], {}, { CLICKHOUSE_URL: `http://berth:${secret}@h:0` }),
      ),
      problemsOf(() =>
        loadConfig(['clickhouseUrl'], {}, { CLICKHOUSE_URL: `ftp://berth:${secret}@h:21` }),
      ),
      problemsOf(() =>
        loadConfig(['clickhouseUrl'], {}, { CLICKHOUSE_URL: `http://berth:${secret}@h:99999` }),
      ),
      problemsOf(() =>
        loadConfig(['clickhouseUrl'], {}, { CLICKHOUSE_URL: `http://berth:${secret}@a b:8123` }),
      ),
      problemsOf(() =>
        loadConfig(
          ['natsUrl'],
          {},
          { NATS_URL: `nats://ok:4222,nats://u:${secret}/x@bad host:4222` },
        ),
      ),
    ];
    for (const message of messages) {
      expect(message).toMatch(/^bad configuration:\n {2}- --/);
      expect(message).not.toContain(secret);
      expect(message).not.toContain('Hunter2');
    }
    // Still says which URL it is about, without the credentials.
    expect(messages[3]).toContain('is not a URL: "http://***@h:99999"');
  });
});
