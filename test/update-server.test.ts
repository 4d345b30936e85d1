import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplianceClient } from '../src/clients/admin-client.js';
import {
  freePort,
  GATEHOUSE_BIN,
  startUpdateServerProcess,
  type UpdateServerProcess,
} from '../src/lab/processes.js';
import { generateEd25519, keyId, loadPrivateKey } from '../src/shared/crypto.js';
import { isGatehouseError } from '../src/shared/errors.js';
import { until } from '../src/shared/until.js';
import { CODE_ROOT } from '../src/shared/version.js';
import { buildPackage } from '../src/updates/package.js';
import { UpdateServerClient, type AvailablePackage } from '../src/updates/update-client.js';
import { tempDir } from './support/appliance.js';
import { selfMadeAppliance } from './support/updates.js';

const exec = promisify(execFile);
const OPERATOR_PASSWORD = 'Catalogue-Keeper-42';

async function gatehouse(args: string[]) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [GATEHOUSE_BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const sha256File = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const appliance = selfMadeAppliance;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isGatehouseError(e) ? e.code : String(e);
  }
}

const form = (fields: Record<string, string>) => ({
  raw: Buffer.from(new URLSearchParams(fields).toString()),
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
});

describe('update server', () => {
  let root: string;
  let dataDir: string;
  let server: UpdateServerProcess;
  let http: ApplianceClient;
  const clients: UpdateServerClient[] = [];
  const pkgs: Record<'base' | 'p110' | 'p120' | 'foreign', string> = {
    base: '',
    p110: '',
    p120: '',
    foreign: '',
  };

  const clientFor = (a: ReturnType<typeof appliance>, fingerprint = server.fingerprint) => {
    const c = new UpdateServerClient({ url: server.url, fingerprint, token: () => a.token() });
    clients.push(c);
    return c;
  };
  const versions = (list: AvailablePackage[]) => list.map((p) => `${p.kind} ${p.version}`);
  /** The operator's proof for one appliance (finding 4): a registration token from the CLI. */
  const registrationToken = async (name: string) => {
    const res = await gatehouse([
      'update-server',
      'token',
      'create',
      '--data-dir',
      dataDir,
      '--appliance',
      name,
      '--json',
    ]);
    expect(res.stderr).toBe('');
    return (JSON.parse(res.stdout) as { token: string }).token;
  };
  /** A client of an appliance enrolled with a token at its first check, and that check. */
  const enrolled = async (a: ReturnType<typeof appliance>) => {
    const client = clientFor(a);
    const first = await client.check(await registrationToken(a.name));
    return { client, first };
  };

  beforeAll(async () => {
    root = tempDir('gh-updsrv-');
    dataDir = path.join(root, 'server');
    const release = generateEd25519();
    const other = generateEd25519();
    writeFileSync(path.join(root, 'release.pub'), release.publicKeyPem);
    writeFileSync(path.join(root, 'operator.txt'), `${OPERATOR_PASSWORD}\n`);
    const signer = (pem: string, pub: string) => [{ key: loadPrivateKey(pem), keyId: keyId(pub) }];
    // A base package of a tiny runtime tree: the real dependency tree is tens of MB.
    const tree = path.join(root, 'tree');
    mkdirSync(path.join(tree, 'node_modules'), { recursive: true });
    writeFileSync(path.join(tree, 'package.json'), JSON.stringify({ name: 'gatehouse' }));
    const build = (name: keyof typeof pkgs, opts: Parameters<typeof buildPackage>[0]) => {
      pkgs[name] = opts.out;
      return buildPackage(opts);
    };
    const common = (name: string) => ({
      out: path.join(root, `${name}.ghpkg`),
      tmpDir: path.join(root, `tmp-${name}`),
      signers: signer(release.privateKeyPem, release.publicKeyPem),
    });
    await Promise.all([
      build('base', { ...common('base'), kind: 'base', version: '1.1.0', from: tree }),
      build('p110', {
        ...common('p110'),
        kind: 'product',
        version: '1.1.0',
        from: CODE_ROOT,
        requiresBase: '1.1.0',
        releaseNotes: 'Faster failover <b>sync</b>',
      }),
      build('p120', { ...common('p120'), kind: 'product', version: '1.2.0', from: CODE_ROOT }),
      build('foreign', {
        ...common('foreign'),
        kind: 'product',
        version: '1.3.0',
        from: CODE_ROOT,
        signers: signer(other.privateKeyPem, other.publicKeyPem),
      }),
    ]);
    const init = await gatehouse([
      'update-server',
      'init',
      '--data-dir',
      dataDir,
      '--release-key',
      path.join(root, 'release.pub'),
      '--admin-password-file',
      path.join(root, 'operator.txt'),
      '--address',
      '127.0.0.1',
    ]);
    expect(init.stderr).toBe('');
    expect(init.stdout).toMatch(
      /TLS certificate SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/,
    );
    expect(init.stdout).not.toContain(OPERATOR_PASSWORD);
    server = await startUpdateServerProcess(dataDir);
    http = server.client();
    // Published while the server runs, deliberately not in install order.
    for (const name of ['p120', 'base', 'p110'] as const) {
      const res = await gatehouse(['update-server', 'publish', pkgs[name], '--data-dir', dataDir]);
      expect(res.stderr).toBe('');
      expect(res.stdout).toMatch(/^Published: /);
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await http?.close();
    await server?.stop().catch(() => server.kill());
  });

  it('prints its URL and TLS fingerprint at start and reports the catalogue on /health', async () => {
    expect(server.output.join('\n')).toContain(server.fingerprint);
    expect(server.output.join('\n')).toContain(server.url);
    const health = await http.call<{ ok: boolean; packages: number }>('GET', '/health');
    expect(health.body).toEqual({ ok: true, packages: 3 });
  });

  it('lists packages newer than what the appliance runs, base first (install order)', async () => {
    const a = appliance('appliance-order');
    const available = (await enrolled(a)).first;
    expect(versions(available)).toEqual(['base 1.1.0', 'product 1.1.0', 'product 1.2.0']);
    const p110 = available[1]!;
    expect(p110).toMatchObject({
      id: sha256File(pkgs.p110),
      sha256: sha256File(pkgs.p110),
      size: readFileSync(pkgs.p110).length,
      requires: { base: '1.1.0' },
      releaseNotes: 'Faster failover <b>sync</b>',
      url: `/api/v1/packages/${sha256File(pkgs.p110)}`,
    });
    const newer = appliance('appliance-newer', { product: '1.1.0', base: '1.1.0' });
    expect(versions((await enrolled(newer)).first)).toEqual(['product 1.2.0']);
  });

  it('publishing the same file again changes nothing', async () => {
    const res = await gatehouse(['update-server', 'publish', pkgs.p110, '--data-dir', dataDir]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^Already published: product 1\.1\.0/);
  });

  it('refuses a tampered, truncated or foreign-signed package, with the reason', async () => {
    const bytes = readFileSync(pkgs.p120);
    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 1000] = flipped[bytes.length - 1000]! ^ 0x01;
    const headerFlipped = Buffer.from(bytes);
    headerFlipped[40] = headerFlipped[40]! ^ 0x01;
    const cases: [string, Buffer | string, RegExp][] = [
      ['flipped.ghpkg', flipped, /PACKAGE_CORRUPT.*does not match its signed sha256/],
      ['header.ghpkg', headerFlipped, /PACKAGE_(BAD_SIGNATURE|CORRUPT)/],
      ['truncated.ghpkg', bytes.subarray(0, bytes.length - 5000), /PACKAGE_TRUNCATED.*truncated/],
      [
        'foreign',
        pkgs.foreign,
        /PACKAGE_UNTRUSTED_SIGNER.*not signed by a release key this update server accepts/,
      ],
    ];
    for (const [name, content, reason] of cases) {
      const file = typeof content === 'string' ? content : path.join(root, name);
      if (typeof content !== 'string') writeFileSync(file, content);
      const res = await gatehouse(['update-server', 'publish', file, '--data-dir', dataDir]);
      expect(res.code, name).toBe(2);
      expect(res.stderr, name).toMatch(reason);
    }
    const missing = await gatehouse([
      'update-server',
      'publish',
      path.join(root, 'nope.ghpkg'),
      '--data-dir',
      dataDir,
    ]);
    expect(missing.stderr).toMatch(/PACKAGE_FILE_NOT_FOUND.*does not exist/);
    const health = await http.call<{ packages: number }>('GET', '/health');
    expect(health.body.packages).toBe(3);
  });

  it('a downloaded package leaves the list until the operator resets it (S11)', async () => {
    const a = appliance('appliance-s11');
    const { client, first } = await enrolled(a);
    const p120 = first.find((p) => p.version === '1.2.0')!;
    const dest = path.join(root, 's11', 'p120.ghpkg');
    await client.download(p120, dest);
    expect(sha256File(dest)).toBe(p120.sha256);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(versions(await client.check())).toEqual(['base 1.1.0', 'product 1.1.0']);
    // Fetching it again in full needs the operator.
    const again = await http.call<{ code: string; detail: string }>('GET', p120.url, {
      headers: { authorization: `Gatehouse-Appliance ${a.token()}` },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('PACKAGE_ALREADY_DOWNLOADED');
    expect(again.body.detail).toMatch(
      /update-server reset --appliance appliance-s11 --version 1\.2\.0/,
    );
    const listed = await gatehouse(['update-server', 'list', '--data-dir', dataDir]);
    expect(listed.stdout).toMatch(/appliance-s11\s+product 1\.2\.0\s+via api/);
    const reset = await gatehouse([
      'update-server',
      'reset',
      '--data-dir',
      dataDir,
      '--appliance',
      'appliance-s11',
      '--version',
      '1.2.0',
    ]);
    expect(reset.stdout).toMatch(/Reset 1 download record/);
    expect(versions(await client.check())).toEqual([
      'base 1.1.0',
      'product 1.1.0',
      'product 1.2.0',
    ]);
    const unknown = await gatehouse([
      'update-server',
      'reset',
      '--data-dir',
      dataDir,
      '--appliance',
      'nobody',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/APPLIANCE_UNKNOWN.*appliance: "nobody" is not enrolled here/);
  });

  it('resumes an interrupted download with Range and checks the whole file', async () => {
    const a = appliance('appliance-resume');
    const { client, first } = await enrolled(a);
    const pkg = first.find((p) => p.version === '1.1.0' && p.kind === 'product')!;
    const dest = path.join(root, 'resume', 'p110.ghpkg');
    mkdirSync(path.dirname(dest), { recursive: true });
    const cut = Math.floor(pkg.size / 3);
    const auth = { authorization: `Gatehouse-Appliance ${a.token()}` };
    // A range that stops short of the end is not a download: the package is still offered.
    const head = await http.call<Buffer>('GET', pkg.url, {
      headers: { ...auth, range: `bytes=0-${cut - 1}` },
    });
    expect(head.status).toBe(206);
    expect(head.headers['content-range']).toBe(`bytes 0-${cut - 1}/${pkg.size}`);
    expect(head.body.length).toBe(cut);
    expect(versions(await client.check())).toContain('product 1.1.0');
    // A real transfer whose connection drops after `cut` bytes. (The server may already have
    // handed every byte to the kernel, and counted the download: a resume is still served.)
    const res = await request(new URL(pkg.url, server.url), {
      headers: auth,
      dispatcher: http.agent,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['accept-ranges']).toBe('bytes');
    const got: Buffer[] = [];
    let n = 0;
    for await (const chunk of res.body) {
      got.push(chunk as Buffer);
      n += (chunk as Buffer).length;
      if (n >= cut) break;
    }
    writeFileSync(`${dest}.part`, Buffer.concat(got).subarray(0, cut));
    const progress: number[] = [];
    await client.download(pkg, dest, (received) => progress.push(received));
    expect(progress[0]).toBe(cut);
    expect(progress.at(-1)).toBe(pkg.size);
    expect(sha256File(dest)).toBe(pkg.sha256);
    expect(versions(await client.check())).not.toContain('product 1.1.0');
    // A range past the end is refused the standard way.
    const past = await http.call('GET', pkg.url, {
      headers: { authorization: `Gatehouse-Appliance ${a.token()}`, range: `bytes=${pkg.size}-` },
    });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${pkg.size}`);
  });

  it('removes a download whose bytes do not match the package digest', async () => {
    const a = appliance('appliance-corrupt');
    const { client, first } = await enrolled(a);
    const pkg = first[0]!;
    const dest = path.join(root, 'corrupt', 'base.ghpkg');
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(`${dest}.part`, Buffer.alloc(100, 0x41));
    expect(await codeOf(client.download(pkg, dest))).toBe('UPDATE_DOWNLOAD_CORRUPT');
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it('a package damaged on its disk is refused and not counted, named at start, by list and verify, and repaired by publishing it again', async () => {
    const a = appliance('appliance-damaged');
    const { client, first } = await enrolled(a);
    const pkg = first.find((p) => p.version === '1.2.0')!;
    const stored = path.join(dataDir, 'packages', `${pkg.sha256}.ghpkg`);
    const bytes = readFileSync(stored);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(stored, bytes);
    const dest = path.join(root, 'damaged', 'p120.ghpkg');
    const refused = await client.download(pkg, dest).catch((e: Error) => e);
    expect(isGatehouseError(refused) && refused.code).toBe('PACKAGE_DAMAGED_ON_UPDATE_SERVER');
    expect((refused as Error).message).toMatch(/update-server publish FILE/);
    expect(existsSync(dest)).toBe(false);
    // A refused download is not a download (S11): still offered, nothing listed as downloaded.
    expect(versions(await client.check())).toContain('product 1.2.0');
    const listed = await gatehouse(['update-server', 'list', '--data-dir', dataDir]);
    expect(listed.stdout).toMatch(/product 1\.2\.0 .*DAMAGED: .* has sha256 [0-9a-f]{64}, not /);
    expect(listed.stdout).toMatch(/To repair: publish the good package file again/);
    expect(listed.stdout).not.toMatch(/appliance-damaged\s+product/);
    const verify = await gatehouse(['update-server', 'verify', '--data-dir', dataDir]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(
      /UPDATE_SERVER_PACKAGES_DAMAGED.*1 of 3 stored package\(s\)[\s\S]*product 1\.2\.0 .*damaged/,
    );
    // Said at start too.
    await server.stop();
    server = await startUpdateServerProcess(dataDir, { port: server.port });
    await until(
      () => server.output.some((l) => /stored package not as published: product 1\.2\.0/.test(l)),
      10_000,
      'the damage logged at start',
    );
    const repaired = await gatehouse([
      'update-server',
      'publish',
      pkgs.p120,
      '--data-dir',
      dataDir,
    ]);
    expect(repaired.stdout).toMatch(/^Repaired .*: product 1\.2\.0/);
    const ok = await gatehouse(['update-server', 'verify', '--data-dir', dataDir]);
    expect(ok.stdout).toBe('All 3 stored package(s) are as published.\n');
    await client.download(pkg, dest);
    expect(sha256File(dest)).toBe(pkg.sha256);
    expect(versions(await client.check())).not.toContain('product 1.2.0');
  });

  it('the download-key page lists the packages of a valid key with working links (S10)', async () => {
    const a = appliance('appliance-airgap');
    const start = await http.call<string>('GET', '/', { headers: { accept: 'text/html' } });
    expect(start.body).toContain('name="downloadKey"');
    // First use of an air-gapped appliance: the operator's registration token beside the key.
    const res = await http.call<string>(
      'POST',
      '/',
      form({
        downloadKey: a.token(3_600_000),
        registrationToken: await registrationToken('appliance-airgap'),
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body).toContain('Updates for appliance-airgap');
    const rows = [...res.body.matchAll(/data-kind="(\w+)" data-version="([\d.]+)"/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect(rows).toEqual(['base 1.1.0', 'product 1.1.0', 'product 1.2.0']);
    expect(res.body).toContain('Faster failover &lt;b&gt;sync&lt;/b&gt;');
    const links = [
      ...res.body.matchAll(/href="(\/api\/v1\/packages\/[0-9a-f]{64}\?ticket=[^"]+)"/g),
    ].map((m) => m[1]!.replace(/&amp;/g, '&'));
    expect(links).toHaveLength(3);
    const file = await http.call<Buffer>('GET', links[0]!);
    expect(file.status).toBe(200);
    expect(file.headers['content-disposition']).toContain('gatehouse-base-1.1.0.ghpkg');
    expect(createHash('sha256').update(file.body).digest('hex')).toBe(sha256File(pkgs.base));
    // Downloaded through the page: no longer listed for that appliance. The server counts a
    // download once it has checked the file it sent was still whole, just after the last byte.
    await until(
      async () =>
        !(
          await http.call<string>('POST', '/', form({ downloadKey: a.token(3_600_000) }))
        ).body.includes('data-kind="base"'),
      10_000,
      'the downloaded base package to leave the list',
    );
    // A ticket is bound to its package.
    const otherId = links[1]!.split('?')[0]!;
    const swapped = await http.call<{ code: string }>(
      'GET',
      `${otherId}?${links[0]!.split('?')[1]}`,
    );
    expect(swapped.status).toBe(401);
    expect(swapped.body.code).toBe('DOWNLOAD_TICKET_INVALID');
  });

  it('refuses expired, altered and other appliances’ keys with what to do', async () => {
    const a = appliance('appliance-keys');
    await enrolled(a);
    const expired = a.token(3_600_000, Date.now() - 7_200_000);
    const good = a.token();
    const altered = good.slice(0, 20) + (good[20] === 'x' ? 'y' : 'x') + good.slice(21);
    const impostor = appliance('appliance-keys');
    const cases: [string, number, string, RegExp][] = [
      [
        expired,
        401,
        'DOWNLOAD_KEY_EXPIRED',
        /expired at .*Generate a new key on the appliance&#39;s Updates page/,
      ],
      [altered, 401, 'DOWNLOAD_KEY_BAD_SIGNATURE', /altered or damaged/],
      [
        impostor.token(),
        403,
        'DOWNLOAD_KEY_OTHER_APPLIANCE',
        /Generate the key on the appliance &quot;appliance-keys&quot; itself.*update-server approve --key [0-9a-f]{64} --rekey/,
      ],
      ['not a key', 400, 'DOWNLOAD_KEY_MALFORMED', /not a valid Appliance Download Key/],
    ];
    for (const [token, status, code, message] of cases) {
      const page = await http.call<string>('POST', '/', form({ downloadKey: token }));
      expect(page.status, code).toBe(status);
      expect(page.body, code).toContain(`data-code="${code}"`);
      expect(page.body, code).toMatch(message);
      expect(page.body, code).not.toContain('id="packages"');
    }
    // The API refuses them the same way, as problem+json the appliance shows.
    const check = await http.call<{ code: string; detail: string }>('POST', '/api/v1/check', {
      headers: { authorization: `Gatehouse-Appliance ${impostor.token()}` },
    });
    expect(check.status).toBe(403);
    expect(check.body.code).toBe('DOWNLOAD_KEY_OTHER_APPLIANCE');
    expect(await codeOf(clientFor(impostor).check())).toBe('DOWNLOAD_KEY_OTHER_APPLIANCE');
    const anonymous = await http.call<{ code: string }>('POST', '/api/v1/check');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('DOWNLOAD_AUTH_REQUIRED');
  });

  it('the operator pages need sign-in, and Reset makes a download available again', async () => {
    const a = appliance('appliance-admin');
    const { client, first } = await enrolled(a);
    const p120 = first.find((p) => p.version === '1.2.0')!;
    await client.download(p120, path.join(root, 'admin', 'p120.ghpkg'));

    const anon = await http.call('GET', '/admin', { headers: { accept: 'text/html' } });
    expect(anon.status).toBe(303);
    expect(anon.headers.location).toBe('/admin/sign-in');
    const sneaky = await http.call('POST', '/admin/reset', form({ appliance: 'appliance-admin' }));
    expect(sneaky.status).toBe(303);

    const signInPage = await http.call<string>('GET', '/admin/sign-in', {
      headers: { accept: 'text/html' },
    });
    const preCookie = String(signInPage.headers['set-cookie']).split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(signInPage.body)![1]!;
    const wrong = await http.call<string>('POST', '/admin/sign-in', {
      ...form({ _csrf: csrf, password: 'not-the-password' }),
      headers: { ...form({}).headers, cookie: preCookie },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('operator password is not correct');
    const ok = await http.call('POST', '/admin/sign-in', {
      ...form({ _csrf: csrf, password: OPERATOR_PASSWORD }),
      headers: { ...form({}).headers, cookie: preCookie },
    });
    expect(ok.status).toBe(303);
    const setCookie = String(ok.headers['set-cookie']);
    expect(setCookie).toMatch(/__Host-ghus-admin=.*HttpOnly.*Secure.*SameSite=Strict/i);
    const session = setCookie.split(';')[0]!;

    const admin = await http.call<string>('GET', '/admin', {
      headers: { accept: 'text/html', cookie: session },
    });
    expect(admin.status).toBe(200);
    expect(admin.body).toContain(sha256File(pkgs.base));
    expect(admin.body).toContain(`data-appliance="appliance-admin" data-sha256="${p120.sha256}"`);
    const sessionCsrf = /name="_csrf" value="([^"]+)"/.exec(admin.body)![1]!;

    const forged = await http.call('POST', '/admin/reset', {
      ...form({ _csrf: 'forged', appliance: 'appliance-admin', package: p120.sha256 }),
      headers: { ...form({}).headers, cookie: session },
    });
    expect(forged.status).toBe(403);
    expect(versions(await client.check())).not.toContain('product 1.2.0');

    const reset = await http.call('POST', '/admin/reset', {
      ...form({ _csrf: sessionCsrf, appliance: 'appliance-admin', package: p120.sha256 }),
      headers: { ...form({}).headers, cookie: session },
    });
    expect(reset.status).toBe(303);
    expect(String(reset.headers.location)).toContain('notice=');
    expect(versions(await client.check())).toContain('product 1.2.0');
  });

  it('the appliance side says when the server is unreachable or not the pinned one', async () => {
    const a = appliance('appliance-pin');
    const wrong = clientFor(a, 'AB:'.repeat(31) + 'AB');
    expect(await codeOf(wrong.check())).toBe('UPDATE_SERVER_CERT_MISMATCH');
    const port = await freePort();
    const nowhere = new UpdateServerClient({
      url: `https://127.0.0.1:${port}`,
      fingerprint: server.fingerprint,
      token: () => a.token(),
    });
    clients.push(nowhere);
    await expect(nowhere.check()).rejects.toThrow(/cannot be reached \(ECONNREFUSED\)/);
  });

  it('every command says which flag is missing or wrong', async () => {
    const help = await gatehouse(['update-server', '--help']);
    for (const c of ['init', 'start', 'publish', 'list', 'reset']) expect(help.stdout).toContain(c);
    const noDir = await gatehouse(['update-server', 'list']);
    expect(noDir.stderr).toMatch(/--data-dir/);
    const notInit = await gatehouse(['update-server', 'list', '--data-dir', root]);
    expect(notInit.stderr).toMatch(/UPDATE_SERVER_NOT_INITIALISED.*update-server init/);
    const noKey = await gatehouse(['update-server', 'init', '--data-dir', path.join(root, 'x')]);
    expect(noKey.stderr).toMatch(/release-key: is required/);
    const privateKey = path.join(root, 'private.pem');
    await fsp.writeFile(privateKey, generateEd25519().privateKeyPem);
    const wrongKey = await gatehouse([
      'update-server',
      'init',
      '--data-dir',
      path.join(root, 'y'),
      '--release-key',
      privateKey,
    ]);
    expect(wrongKey.stderr).toMatch(/release-key: .* never its private key/);
    expect(existsSync(path.join(root, 'y'))).toBe(false);
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await server.stop()).toBe(0);
  });
});
