import { AdminAuth } from './admin-auth.js';
import type { UpdateServerDir } from './data-dir.js';
import { PackageIntegrity } from './integrity.js';
import type { UpdateStore } from './store.js';

/** What the routes of one update server share. */
export class UpdateServer {
  readonly auth: AdminAuth;
  readonly integrity: PackageIntegrity;

  constructor(
    readonly dir: UpdateServerDir,
    readonly store: UpdateStore,
  ) {
    this.auth = new AdminAuth(store);
    this.integrity = new PackageIntegrity(dir);
  }

  get ticketSecret(): string {
    return this.store.setting('ticket_secret')!;
  }
}
