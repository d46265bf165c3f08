import type { Config } from '../config.ts';

/** The settings a Berth process signs in to NATS with: its nkey seed and its TLS files. */
export const NATS_SIGN_IN_SETTINGS = ['natsNkeyFile', 'natsCa', 'natsCert', 'natsKey'] as const;

export type NatsSignIn = Config<(typeof NATS_SIGN_IN_SETTINGS)[number]>;

let processSignIn: Partial<NatsSignIn> = {};

/**
 * Sets the nkey seed file and TLS files every connection of this process signs in with unless
 * it is given its own. A Berth process is one NATS user, so the command line sets them once,
 * from --nats-nkey, --nats-ca, --nats-cert and --nats-key.
 */
export function useNatsSignIn(signIn: Partial<NatsSignIn>): void {
  processSignIn = signIn;
}

/** What useNatsSignIn set: what a connection signs in with when it is given nothing else. */
export function natsSignIn(): Partial<NatsSignIn> {
  return processSignIn;
}
