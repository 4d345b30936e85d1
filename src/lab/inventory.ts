import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventoryYaml, type Inventory } from '../orchestrator/inventory.js';
import { SITE_HOSTNAME } from './plan.js';
import type { LabState } from './state.js';

/**
 * The lab's deployment as the orchestrator reads it: each appliance at its own address, the
 * site where clients connect, and credentials as files relative to the inventory (DIR).
 */
export function labInventory(state: LabState): Inventory {
  const { appliance, login } = state.credentials;
  return {
    version: 1,
    site: {
      hostname: SITE_HOSTNAME,
      address: `${state.site.host}:${state.site.port}`,
      // The file the lab's clients resolve the site through: the orchestrator follows it too.
      ...(state.site.switch === 'hosts-file' && state.site.hostsFile
        ? {
            hostsFile: path.relative(
              path.dirname(path.join(state.dir, state.inventory)),
              state.site.hostsFile,
            ),
          }
        : {}),
    },
    credentials: {
      appliance: { username: appliance.username, password: { file: appliance.passwordFile } },
      login: { username: login.username, password: { file: login.passwordFile } },
    },
    trafficSwitch: { method: state.site.switch === 'nat' ? 'nat-command' : state.site.switch },
    appliances: state.appliances.map((a) => ({
      name: a.name,
      address: `${a.host}:${a.port}`,
      fingerprint: a.fingerprint,
      role: a.role,
      ...(a.region ? { region: a.region } : {}),
    })),
  };
}

export async function writeInventory(state: LabState): Promise<string> {
  const file = path.join(state.dir, state.inventory);
  writeFileSync(file, await inventoryYaml(labInventory(state)), { mode: 0o644 });
  return file;
}
