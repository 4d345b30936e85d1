import type { Command } from 'commander';
import { fingerprintOption, secretFrom } from './clients.js';

export interface AdminApiOptions {
  appliance: string;
  fingerprint: string;
  user: string;
  passwordFile?: string;
}

/** The options of a command that signs in to an appliance's admin API. */
export function adminApiOptions(cmd: Command, area: 'appliance' | 'login'): Command {
  return cmd
    .requiredOption('--appliance <url>', 'the appliance, e.g. https://127.0.0.1:8443')
    .requiredOption(
      '--fingerprint <sha256>',
      "the appliance certificate's SHA-256 fingerprint",
      fingerprintOption,
    )
    .requiredOption('--user <name>', `a /${area} administrator`)
    .option('--password-file <file>', 'file holding the password (else $GATEHOUSE_PASSWORD)');
}

/**
 * The error an appliance's answer says (toError), loaded with the client only when needed: the
 * client pulls in undici, which every `gatehouse` process (the appliance's supervisor too)
 * would otherwise load at start for nothing.
 */
export async function apiError(
  res: import('../clients/admin-client.js').ApiResponse,
): Promise<Error> {
  const { toError } = await import('../clients/admin-client.js');
  return toError(res);
}

/** Sign in to one area of the appliance, run `fn`, close the connection. */
export async function withAdminApi<T>(
  o: AdminApiOptions,
  area: 'appliance' | 'login',
  fn: (api: import('../clients/admin-client.js').ApplianceClient) => Promise<T>,
): Promise<T> {
  const { ApplianceClient } = await import('../clients/admin-client.js');
  const api = new ApplianceClient(o.appliance, { fingerprint: o.fingerprint });
  try {
    await api.signIn(
      area,
      o.user,
      secretFrom('--password-file', o.passwordFile, 'GATEHOUSE_PASSWORD'),
    );
    return await fn(api);
  } finally {
    await api.close();
  }
}
