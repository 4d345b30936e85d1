import type { PageContext as Context, Pages as Registrar } from '../../shared/web/kit.js';
import type { Db } from '../../store/db.js';
import type { EventLog } from '../events.js';
import type { FileStore } from '../files.js';
import type { InterApplianceKey } from '../security.js';
import type { SiteSettingsService } from '../settings.js';
import type { UserDirectory } from '../users.js';

/**
 * What the site's own sections (Users, Configuration, File Store, Logs, Management > Security)
 * and their API need of the appliance they run in: the site's services, and its name and
 * store for the integrity snapshot the orchestrator compares.
 */
export interface SiteDataSite {
  readonly name: string;
  readonly db: Db;
  readonly users: UserDirectory;
  readonly settings: SiteSettingsService;
  readonly files: FileStore;
  readonly events: EventLog;
  readonly interApplianceKey: InterApplianceKey;
}

/** A page of the site's sections, and their registrar. */
export type PageContext = Context<SiteDataSite>;
export type Pages = Registrar<SiteDataSite>;
