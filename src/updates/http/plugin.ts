import type { FastifyPluginAsync } from 'fastify';
import { registerOperations, type OperationHost } from '../../shared/http/operations.js';
import { pages, type PageHost } from '../../shared/web/kit.js';
import { updateOperations } from './api.js';
import { consoleBuildOperations } from './api-console-builds.js';
import { registerUpdatesPages } from './pages.js';
import type { UpdatesSite } from './site.js';

export interface UpdatesHttpOptions {
  /** The page host of /appliance, seeing the appliance as `UpdatesSite`. */
  pages: PageHost<UpdatesSite>;
  /** How the admin API checks sessions (the appliance's /appliance accounts). */
  authenticate: OperationHost<UpdatesSite>['authenticate'];
}

/**
 * The updates' HTTP surface on an appliance: the /api/appliance/updates operations,
 * /appliance > Updates, and the console builds consoles download to follow the site (S12).
 * (The update server's own HTTP is src/updates/server/.)
 */
export const updatesHttp: FastifyPluginAsync<UpdatesHttpOptions> = async (app, opts) => {
  const site = opts.pages.context;
  registerOperations(app, { context: site, authenticate: opts.authenticate }, [
    ...updateOperations,
    ...consoleBuildOperations,
  ]);
  const p = pages(app, opts.pages, 'appliance');
  p.link('/appliance/updates', 'Updates', 40);
  registerUpdatesPages(p, site);
};
