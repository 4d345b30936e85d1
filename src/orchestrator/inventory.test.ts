import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsOf, loadInventory } from './inventory.js';

const FP = 'AB:'.repeat(31) + 'AB';
const write = (yaml: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-inventory-'));
  const file = path.join(dir, 'inventory.yaml');
  writeFileSync(file, yaml);
  return file;
};
const valid = (site = 'site:\n  address: 10.0.0.10:443\n', method = 'shared-ip') => `version: 1
${site}credentials:
  appliance: { username: admin, password: { env: GH_TEST_APPLIANCE_PASSWORD } }
  login: { username: admin, password: { file: login.password } }
trafficSwitch: { method: ${method} }
appliances:
  - { name: gh-a, address: 10.0.0.11:443, fingerprint: "${FP}", role: primary }
`;
const invalid = (yaml: string) => {
  try {
    loadInventory(write(yaml));
  } catch (e) {
    return e as { code: string; message: string; fields: { field: string; message: string }[] };
  }
  throw new Error('the inventory was accepted');
};

describe('the inventory', () => {
  it('reads passwords from the environment or a file beside it, never inline', () => {
    const file = write(valid());
    writeFileSync(path.join(path.dirname(file), 'login.password'), 'from-a-file\n');
    const inv = loadInventory(file);
    const a = inv.appliances[0]!;
    delete process.env.GH_TEST_APPLIANCE_PASSWORD;
    expect(() => credentialsOf(inv, a)).toThrow(
      /credentials.appliance.password: the environment variable GH_TEST_APPLIANCE_PASSWORD is not set/,
    );
    process.env.GH_TEST_APPLIANCE_PASSWORD = 'from-the-environment';
    expect(credentialsOf(inv, a)).toEqual({
      appliance: { username: 'admin', password: 'from-the-environment' },
      login: { username: 'admin', password: 'from-a-file' },
    });
    delete process.env.GH_TEST_APPLIANCE_PASSWORD;

    const inline = invalid(valid().replace('{ file: login.password }', 'hunter2'));
    expect(inline.code).toBe('INVENTORY_INVALID');
    expect(inline.fields.map((f) => f.field)).toEqual(['credentials.login.password']);
    expect(inline.message).not.toContain('hunter2');
  });

  it('names the field of every problem', () => {
    const e = invalid(
      valid()
        .replace('role: primary', 'role: leader')
        .replace('version: 1', 'version: 2\nextra: 1'),
    );
    expect(e.fields.map((f) => f.field).sort()).toEqual(['(top)', 'appliances.0.role', 'version']);
    expect(e.message).toContain('unknown field extra');
    const noName = invalid(valid(undefined, 'hosts-file'));
    expect(noName.fields).toEqual([
      {
        field: 'site.hostname',
        message: 'is required with trafficSwitch.method hosts-file: the name the switch points at',
      },
    ]);
    const broken = invalid('version: 1\nsite: [unclosed\n');
    expect(broken.fields[0]!.field).toMatch(/^line \d+$/);
    const twice = invalid(
      valid() + `  - { name: gh-a, address: 10.0.0.12:443, fingerprint: "${FP}" }\n`,
    );
    expect(twice.message).toContain('"gh-a" is listed twice');
  });

  it('takes a hosts file for the hosts-file switch', () => {
    const inv = loadInventory(
      write(
        valid(
          'site:\n  hostname: support.example.com\n  address: 10.0.0.10:443\n  hostsFile: hosts\n',
          'hosts-file',
        ),
      ),
    );
    expect(inv.site).toEqual({
      hostname: 'support.example.com',
      address: '10.0.0.10:443',
      hostsFile: 'hosts',
    });
  });
});
