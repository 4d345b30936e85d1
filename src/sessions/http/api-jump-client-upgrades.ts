import type { Actor } from '../../shared/actor.js';
import { operationsOf, type Operation } from '../../shared/http/operations.js';
import type { JumpClientsSite } from './site.js';

const op = operationsOf<JumpClientsSite>({ area: 'login', tag: 'login' });

/** Resume a halted upgrade (the API and the Status page's button), logged with who did it. */
export function resumeUpgrades(
  appliance: Pick<JumpClientsSite, 'clients' | 'events' | 'productVersion'>,
  actor: Actor,
) {
  const r = appliance.clients.upgrades.resume();
  appliance.events.record(actor, 'jump-client.upgrade.resume', appliance.productVersion, r);
  return r;
}

/**
 * S13: how this appliance's Jump Clients upgrade to its version, wave by wave
 * (src/sessions/jump-client-upgrades.ts); the settings are on /login > Configuration.
 */
export const jumpClientUpgradeOperations: Operation<unknown, unknown, unknown, JumpClientsSite>[] =
  [
    op('jumpClientUpgrades', 'GET /api/login/jump-clients/upgrades', {
      summary:
        "Jump Client upgrades to the site's build: the waves so far, who waits, who came back, and why a halted upgrade halted",
      response: { status: 200, description: 'Rollout status' },
      handler: ({ appliance }) => appliance.clients.upgrades.status(),
    }),
    op('resumeJumpClientUpgrades', 'POST /api/login/jump-clients/upgrades/resume', {
      summary:
        'Resume a halted Jump Client upgrade: the next wave starts; the clients missing from the halted wave are left out',
      response: { status: 200, description: 'Resumed, and who was left out' },
      handler: ({ appliance, actor }) => ({
        ...resumeUpgrades(appliance, actor),
        status: appliance.clients.upgrades.status(),
      }),
    }),
  ];
