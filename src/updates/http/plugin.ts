import { adminSurface, domainHttp, type AdminOptions } from '../../shared/web/domain-http.js';
import { updateOperations } from './api.js';
import { consoleBuildOperations } from './api-console-builds.js';
import { registerUpdatesPages } from './pages.js';
import type { UpdatesSite } from './site.js';

const operations = [...updateOperations, ...consoleBuildOperations];

/** The page host of /appliance seeing the appliance as `UpdatesSite` (no guards: per appliance). */
export type UpdatesHttpOptions = AdminOptions<UpdatesSite>;

/**
 * The updates' HTTP surface on an appliance: the /api/appliance/updates operations,
 * /appliance > Updates, and the console builds consoles download to follow the site (S12).
 * (The update server's own HTTP is src/updates/server/.)
 */
export const updatesHttp = domainHttp<UpdatesHttpOptions>(operations, async (app, opts) => {
  const p = adminSurface(app, opts, 'appliance', operations);
  p.link('/appliance/updates', 'Updates', 40);
  registerUpdatesPages(p, opts.pages.context);
});
