import path from 'node:path';
import type { LabState } from './state.js';

/** What `lab up` prints: every web console, who signs in, where the passwords are (not them). */
export function describeLab(s: LabState): string[] {
  const file = (rel: string) => path.join(s.dir, rel);
  const { appliance, login, representative, updateServer } = s.credentials;
  const lines = [
    '',
    `Lab "${s.topology}" is running (state in ${file('lab.json')}).`,
    `Site ${s.site.hostname} → ${s.site.host}:${s.site.port} (traffic switch: ${s.site.switch}${s.site.hostsFile ? `, hosts file ${s.site.hostsFile}` : ''})`,
    '',
    'Web consoles (self-signed certificates; compare the fingerprints):',
  ];
  for (const a of s.appliances) {
    lines.push(
      `  ${a.name} (${a.role}${a.region ? `, ${a.region}` : ''})  ${a.fingerprint}`,
      `    ${a.urls.appliance}`,
      `    ${a.urls.login}`,
    );
  }
  if (s.updateServer)
    lines.push(`  update server  ${s.updateServer.fingerprint}`, `    ${s.updateServer.url}/admin`);
  lines.push(
    '',
    'Sign in with:',
    `  /appliance      user ${appliance.username}, password in ${file(appliance.passwordFile)}`,
    `  /login          user ${login.username}, password in ${file(login.passwordFile)}`,
    `  console         user ${representative.username}, password in ${file(representative.passwordFile)}`,
    `  update server   user ${updateServer.username}, password in ${file(updateServer.passwordFile)}`,
    '',
    `Inventory for the orchestrator: ${file(s.inventory)}`,
    `Release signing key: ${file(s.releaseKey.privateKey)} (public ${file(s.releaseKey.publicKey)})`,
    `Synthetic sessions: ${file('agent-stats.json')}; logs in ${file('logs')}`,
    `Stop it with: gatehouse lab down --dir ${s.dir}`,
  );
  return lines;
}
