import { Command, Option } from 'commander';
import type { NatsConfigOptions } from '../nats-config-files.ts';

export function natsConfigCommand(): Command {
  const command = new Command('nats-config')
    .description(
      'write a nats-server configuration for a fleet: one nkey user per agent, ingest, advisor and admin, each allowed only its own subjects (docs/security.md)',
    )
    .option('--hosts <list>', 'host ids of the agents, comma-separated')
    .option('--hosts-file <file>', 'host ids of the agents, one a line (# starts a comment)')
    .addOption(
      new Option(
        '--out-dir <dir>',
        'folder for nats-server.conf, the seed files <role>.nk (kept when there) and, with --tls, the CA and certificates',
      ).makeOptionMandatory(),
    )
    .option('--listen <host:port>', 'address nats-server listens on for clients', '0.0.0.0:4222')
    .option('--store-dir <path>', "JetStream's store folder on the server", '/var/lib/berth/nats')
    .option(
      '--routes <list>',
      'cluster: nats-route://host:port of the other nodes, comma-separated',
    )
    .option('--server-name <name>', 'cluster: the name of this node, unique in the cluster')
    .option(
      '--nodes <list>',
      'cluster: the names of every node, comma-separated, each reachable by its name; writes nats-server-<name>.conf for each, routed to the others',
    )
    .option('--cluster-listen <host:port>', 'cluster: address for routes', '0.0.0.0:6222')
    .option(
      '--tls',
      'TLS on client connections and cluster routes: writes a CA (ca.crt, ca.key; kept when there) and a certificate per node naming it (nats-server[-<name>].crt and .key; keys 0600), made with openssl',
    )
    .option(
      '--tls-hosts <list>',
      'TLS: further names and addresses clients reach the nodes by, in every node certificate, comma-separated (needed without a cluster)',
    )
    .option(
      '--tls-verify',
      'TLS: mutual TLS, every client presents a certificate the CA signed; writes one per role (<role>.crt, <role>.key)',
    )
    .option(
      '--tls-ca <file>',
      'TLS with your own files: the CA certificate(s) that signed --tls-cert',
    )
    .option(
      '--tls-cert <file>',
      'TLS with your own files: the certificate every node serves, naming every node',
    )
    .option('--tls-key <file>', 'TLS with your own files: the private key of --tls-cert');
  return command.action(async () => {
    const { writeNatsConfig } = await import('../nats-config-files.ts');
    await writeNatsConfig(command.opts<NatsConfigOptions>());
  });
}
