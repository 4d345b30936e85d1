import { PRODUCT_VERSION } from '../shared/version.js';
import { removeReplaced, upgradeInstallation } from './jump-client-installation.js';
import type { SiteApi } from './site-api.js';

/**
 * A Jump Client run from an installation replaces itself with the site's build when the site
 * says it is its turn (S13: the site's upgrade waves, src/sessions/jump-client-upgrades.ts), and
 * once back on the site removes the version it replaced.
 */
export class JumpClientSelfUpgrade {
  private running = false;
  private cleaned = false;

  constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Download, verify and install the site's build; true when the installation now runs it
   * (the client then exits so the launcher starts the new version). A failure leaves the
   * installation unchanged, and is told to the site (it halts the wave).
   */
  async run(
    version: string,
    api: SiteApi,
    ticket: string,
    failed: (reason: string) => void,
  ): Promise<boolean> {
    if (this.running) return false;
    this.running = true;
    this.log(`upgrading from ${PRODUCT_VERSION} to the site's build ${version}`);
    try {
      await upgradeInstallation(this.dir, version, (file) =>
        api.downloadJumpClientBuild(ticket, file),
      );
      this.log(`installed ${version} in ${this.dir}; restarting`);
      return true;
    } catch (e) {
      const reason = `${(e as { code?: string }).code ?? 'ERROR'}: ${(e as Error).message}`;
      this.log(`upgrade to ${version} failed: ${reason}`);
      failed(reason.slice(0, 1000));
      return false;
    } finally {
      this.running = false;
    }
  }

  /** After the first connection of this version: the replaced versions' trees go. */
  connected(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    removeReplaced(this.dir).then(
      (removed) => {
        if (removed.length) this.log(`removed the replaced version ${removed.join(', ')}`);
      },
      (e: Error) => this.log(`could not remove the replaced versions: ${e.message}`),
    );
  }
}
