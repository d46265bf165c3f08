import { readFile } from 'node:fs/promises';
import { BerthError, describeError } from '../../contracts/index.ts';
import { settingLabel, type Config, type SettingName } from '../../lib/config.ts';

export type TlsConfig = Config<'advisorTlsCert' | 'advisorTlsKey' | 'advisorTlsClientCa'>;

/** What the advisor serves HTTPS with, read from the files of the settings. */
export interface AdvisorTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Set for mutual TLS: the CA certificates a client's certificate must be signed by. */
  readonly clientCa?: Buffer;
}

/** The file of a setting; one that cannot be read is a configuration error naming it. */
export async function readSetting(name: SettingName, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `cannot read ${path} (setting ${settingLabel(name)}): ${describeError(error)}`,
      { cause: error },
    );
  }
}

/**
 * The advisor's TLS material, or undefined for plain HTTP. A certificate without its key (or
 * the other way round), or client CAs without a certificate, is a configuration error.
 */
export async function loadAdvisorTls(config: TlsConfig): Promise<AdvisorTls | undefined> {
  const { advisorTlsCert: certFile, advisorTlsKey: keyFile, advisorTlsClientCa: caFile } = config;
  if (certFile === undefined && keyFile === undefined) {
    if (caFile === undefined) return undefined;
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `${settingLabel('advisorTlsClientCa')} asks clients for certificates, which needs TLS: set ${settingLabel('advisorTlsCert')} and ${settingLabel('advisorTlsKey')}`,
    );
  }
  if (certFile === undefined || keyFile === undefined) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `TLS needs both ${settingLabel('advisorTlsCert')} and ${settingLabel('advisorTlsKey')}`,
    );
  }
  return {
    cert: await readSetting('advisorTlsCert', certFile),
    key: await readSetting('advisorTlsKey', keyFile),
    ...(caFile === undefined ? {} : { clientCa: await readSetting('advisorTlsClientCa', caFile) }),
  };
}
