import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { GatehouseError, conflict } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import { SYSTEM } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import { keyId } from '../shared/crypto.js';
import { createDownloadKey, REQUEST_TOKEN_TTL_MS } from './download-key.js';
import type { UpdateInstaller, StagedPackage } from './installer.js';
// The HTTP client (undici) loads on first use: most appliance starts never need it.
import type { UpdateServerClient, AvailablePackage } from './update-client.js';
import {
  automaticUpdateDue,
  describeStanding,
  isStandalone,
  type Standing,
  type UpdateSettings,
} from './update-settings.js';
import { updatesErrors } from './error-codes.js';
import { sharedErrors } from '../shared/error-codes.js';

export interface DownloadProgress {
  id: string;
  kind: string;
  version: string;
  bytes: number;
  total: number;
  state: 'downloading' | 'done' | 'failed';
  error?: string;
}

/**
 * /appliance > Updates: checks the update server, downloads into staging (S11: the server
 * then stops listing what this appliance downloaded), issues Appliance Download Keys for
 * air-gapped installs (S10), and hands staged packages to the installer.
 */
export class UpdateService {
  available: AvailablePackage[] = [];
  lastCheck: { at: string; error?: string } | undefined;
  readonly downloads = new Map<string, DownloadProgress>();
  private automaticTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      appliance: string;
      identityKey: KeyObject;
      publicKeyPem: string;
      running: { product: string; base: string };
      standing: () => Standing;
      settings: UpdateSettings;
      installer: UpdateInstaller;
      events: EventLog;
    },
  ) {}

  /** An Appliance Download Key (S10): names this appliance and what it runs, signed, expiring. */
  downloadKey(actor: Actor, ttlHours: number): { key: string; expiresAt: string } {
    const ttlMs = ttlHours * 3600_000;
    const key = createDownloadKey({
      appliance: this.opts.appliance,
      identityKey: this.opts.identityKey,
      publicKeyPem: this.opts.publicKeyPem,
      product: this.opts.running.product,
      base: this.opts.running.base,
      ttlMs,
    });
    this.opts.events.record(actor, 'updates.download-key-issued', this.opts.appliance, {
      ttlHours,
    });
    return { key, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
  }

  private async client(): Promise<UpdateServerClient> {
    const server = this.opts.settings.server();
    if (!server)
      throw updatesErrors.UPDATE_SERVER_NOT_SET(
        'No update server is configured. Set its URL and certificate fingerprint under Update Server on this page (PUT /api/appliance/updates/server), or install manually with a package file.',
      );
    const { UpdateServerClient } = await import('./update-client.js');
    return new UpdateServerClient({
      url: server.url,
      fingerprint: server.fingerprint,
      token: () =>
        createDownloadKey({
          appliance: this.opts.appliance,
          identityKey: this.opts.identityKey,
          publicKeyPem: this.opts.publicKeyPem,
          product: this.opts.running.product,
          base: this.opts.running.base,
          ttlMs: REQUEST_TOKEN_TTL_MS,
        }),
    });
  }

  private async withClient<T>(use: (c: UpdateServerClient) => Promise<T>): Promise<T> {
    const client = await this.client();
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  }

  /** The fingerprint the update server's operator compares before approving this appliance. */
  get identityFingerprint(): string {
    return keyId(this.opts.publicKeyPem);
  }

  /**
   * S8 Check for updates: what applies to what this appliance runs, in install order. A
   * registration token in the settings enrols this appliance with the server first; it is
   * forgotten once the server accepted it (one use).
   */
  async check(actor: Actor): Promise<AvailablePackage[]> {
    const registrationToken = this.opts.settings.server()?.registrationToken;
    try {
      this.available = await this.withClient((c) => c.check(registrationToken));
      if (registrationToken) {
        this.opts.settings.forgetRegistrationToken();
        this.opts.events.record(actor, 'updates.enrolled', this.opts.appliance, {
          fingerprint: this.identityFingerprint,
        });
      }
      this.lastCheck = { at: new Date().toISOString() };
      this.opts.events.record(actor, 'updates.checked', this.opts.appliance, {
        available: this.available.map((p) => `${p.kind} ${p.version}`),
      });
      return this.available;
    } catch (e) {
      this.lastCheck = { at: new Date().toISOString(), error: (e as Error).message };
      throw e;
    }
  }

  findAvailable(id: string): AvailablePackage {
    const pkg = this.available.find((p) => p.id === id);
    if (!pkg)
      throw sharedErrors.NOT_FOUND(
        `id: ${id} is not in the Available Updates list. Check for updates first; a package this appliance has already downloaded is under Downloaded Packages.`,
      );
    return pkg;
  }

  /** Download into staging (resumable; verified before it is kept). */
  async download(actor: Actor, id: string): Promise<StagedPackage> {
    const already = this.opts.installer.staged().find((s) => s.id === id);
    if (already) return already;
    const pkg = this.findAvailable(id);
    if (this.downloads.get(id)?.state === 'downloading')
      throw conflict(
        updatesErrors.UPDATE_DOWNLOAD_IN_PROGRESS,
        `${pkg.kind} ${pkg.version} is already being downloaded.`,
      );
    const progress: DownloadProgress = {
      id,
      kind: pkg.kind,
      version: pkg.version,
      bytes: 0,
      total: pkg.size,
      state: 'downloading',
    };
    this.downloads.set(id, progress);
    const dest = path.join(this.opts.installer.sys.staging, `${id}.download`);
    try {
      await this.withClient((c) => c.download(pkg, dest, (bytes) => (progress.bytes = bytes)));
      const staged = await this.opts.installer.stageFile(dest, 'download', true);
      progress.state = 'done';
      this.available = this.available.filter((p) => p.id !== id);
      this.opts.events.record(actor, 'updates.downloaded', `${pkg.kind} ${pkg.version}`, {
        sha256: pkg.sha256,
      });
      return staged;
    } catch (e) {
      progress.state = 'failed';
      progress.error = (e as Error).message;
      // A package that failed verification is removed; an interrupted download keeps its .part.
      if (e instanceof GatehouseError && e.code.startsWith('PACKAGE_'))
        await fsp.rm(dest, { force: true });
      throw e;
    }
  }

  /** Install This Update: download when needed, then install. */
  async installAvailable(actor: Actor, id: string, force: boolean) {
    const staged = await this.download(actor, id);
    return this.opts.installer.install(staged.id, actor, { force });
  }

  /**
   * Automatic updates (standalone only, S5): once a day at the set time, check, download and
   * install the first applicable package (the appliance restarts; the next one follows the
   * next day, or by hand).
   */
  startAutomatic(log: (msg: string, err?: unknown) => void): void {
    let lastRunDay = '';
    this.automaticTimer = setInterval(() => {
      const now = new Date();
      if (!automaticUpdateDue(this.opts.settings.automatic(), now, lastRunDay)) return;
      lastRunDay = now.toDateString();
      if (!isStandalone(this.opts.standing())) {
        log(
          `automatic update skipped: the appliance is ${describeStanding(this.opts.standing())} (S5)`,
        );
        return;
      }
      void (async () => {
        const pkgs = await this.check(SYSTEM);
        const first = pkgs[0];
        if (first) await this.installAvailable(SYSTEM, first.id, false);
      })().catch((err: unknown) => log('automatic update failed', err));
    }, 30_000);
    this.automaticTimer.unref();
  }

  stop(): void {
    if (this.automaticTimer) clearInterval(this.automaticTimer);
  }
}
