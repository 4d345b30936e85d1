import { PRODUCT_VERSION } from '../shared/version.js';
import { registrationMessage } from '../sessions/protocol.js';
import type { InstallationIdentity } from './installation-identity.js';
import type { SiteApi } from './site-api.js';

/**
 * Register a Jump Client installation (S13): enrol its key once (with the token), then prove it
 * holds the key by signing the site's challenge. A site that does not know the installation
 * (restored from an older backup) gets it enrolled again at the next attempt.
 */
export async function registerInstallation(
  api: SiteApi,
  o: { name: string; group: string; token: string },
  identity: InstallationIdentity,
  region: string | undefined,
  log: (line: string) => void,
) {
  if (!identity.installation) {
    const { installation } = await api.enrol({
      name: o.name,
      group: o.group,
      token: o.token,
      publicKey: identity.publicKeyPem,
      version: PRODUCT_VERSION,
    });
    identity.installation = installation.id;
    log(`enrolled as installation ${installation.id} (key ${installation.fingerprint})`);
  }
  const { challenge } = await api.challenge(o.name);
  try {
    return await api.register({
      name: o.name,
      group: o.group,
      installation: identity.installation,
      challenge,
      signature: identity.sign(registrationMessage(challenge)),
      version: PRODUCT_VERSION,
      region,
    });
  } catch (e) {
    if ((e as { code?: string }).code === 'JUMP_CLIENT_NOT_ENROLLED')
      identity.installation = undefined;
    throw e;
  }
}
