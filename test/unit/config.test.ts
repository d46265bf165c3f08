import { describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import { loadConfig, SETTINGS } from '../../lib/config.ts';

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

describe('loadConfig', () => {
  it('gives the defaults when nothing is set', () => {
    const config = loadConfig(['natsUrl', 'batchSize', 'clickhouseUrl'], {}, {});
    expect(config).toEqual({
      natsUrl: SETTINGS.natsUrl.defaultValue,
      batchSize: 5000,
      clickhouseUrl: undefined,
    });
  });

  it('reads the environment, lets a flag win over it, and counts an empty variable as unset', () => {
    const env = {
      NATS_URL: 'nats://10.0.0.1:4222',
      BERTH_INGEST_BATCH_SIZE: '100',
      CLICKHOUSE_URL: '',
    };
    expect(loadConfig(['natsUrl', 'batchSize', 'clickhouseUrl'], { batchSize: '7' }, env)).toEqual({
      natsUrl: 'nats://10.0.0.1:4222',
      batchSize: 7,
      clickhouseUrl: undefined,
    });
  });

  it('lists every problem at once, each by flag and environment variable', () => {
    const message = problemsOf(() =>
      loadConfig(
        ['metricsPort', 'batchSize', 'natsUrl', 'clickhouseUrl', 'clickhouseDatabase', 'logLevel'],
        { metricsPort: '99999' },
        {
          BERTH_INGEST_BATCH_SIZE: 'many',
          NATS_URL: 'http://127.0.0.1:4222',
          CLICKHOUSE_URL: 'http://127.0.0.1:0',
          CLICKHOUSE_DATABASE: 'berth; DROP',
          BERTH_LOG_LEVEL: 'loud',
        },
      ),
    );
    expect(message).toContain(
      '--metrics-port / BERTH_METRICS_PORT must be from 0 to 65535, got 99999',
    );
    expect(message).toContain(
      '--batch-size / BERTH_INGEST_BATCH_SIZE must be a whole number, got "many"',
    );
    expect(message).toContain('--nats-url / NATS_URL must start with nats: or tls: or ws: or wss:');
    expect(message).toContain('--clickhouse-url / CLICKHOUSE_URL has port 0');
    expect(message).toContain('--clickhouse-database / CLICKHOUSE_DATABASE must be a plain name');
    expect(message).toContain('--log-level / BERTH_LOG_LEVEL must be one of');
    expect(message.split('\n  - ')).toHaveLength(7);
  });

  it('accepts several NATS servers and checks each', () => {
    expect(loadConfig(['natsUrl'], {}, { NATS_URL: 'nats://a:4222, nats://b:4222' })).toEqual({
      natsUrl: 'nats://a:4222, nats://b:4222',
    });
    expect(
      problemsOf(() => loadConfig(['natsUrl'], {}, { NATS_URL: 'nats://a:4222,nope' })),
    ).toContain('is not a URL: "nope"');
  });

  it('never repeats a password in a message', () => {
    const config = loadConfig(['clickhousePassword'], {}, { CLICKHOUSE_PASSWORD: 's3cret' });
    expect(config.clickhousePassword).toBe('s3cret');
    const message = problemsOf(() =>
      loadConfig(
        ['clickhousePassword', 'batchSize'],
        {},
        { CLICKHOUSE_PASSWORD: 's3cret', BERTH_INGEST_BATCH_SIZE: '0' },
      ),
    );
    expect(message).not.toContain('s3cret');
  });
});
