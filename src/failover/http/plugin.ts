import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { registerOperations, type OperationHost } from '../../shared/http/operations.js';
import { domainHttp } from '../../shared/web/domain-http.js';
import type { PageHost } from '../../shared/web/kit.js';
import { registerPeerRoutes, type PeerHost } from '../peer-server.js';
import type { FailoverRelationship } from '../relationship.js';
import { PEER_ROUTES, type FailoverPeerHost } from '../routes.js';
import { failoverOperations } from './api.js';
import { registerFailoverPages } from './pages.js';
import type { FailoverSite } from './site.js';

export interface FailoverHttpOptions {
  /** The page host of /login, seeing the appliance as `FailoverSite`. */
  pages: PageHost<FailoverSite>;
  /** How the admin API checks sessions (the appliance's /login accounts). */
  authenticate: OperationHost<FailoverSite>['authenticate'];
  /** The peer side: what the pair's endpoints see, and the key that proves each call. */
  peer: PeerHost<FailoverPeerHost>;
}

/**
 * Failover's whole HTTP surface: the /api/login/failover operations, Management > Failover,
 * and the peer protocol between the two appliances of a pair (hello, relationship, sync).
 */
export const failoverHttp = domainHttp<FailoverHttpOptions>(
  failoverOperations,
  async (app, opts) => {
    const site = opts.pages.context;
    registerOperations(app, { context: site, authenticate: opts.authenticate }, failoverOperations);
    registerFailoverPages(app, opts.pages);
    await registerPeerRoutes(app, opts.peer, PEER_ROUTES);
  },
);

/**
 * A primary with a witness acknowledges a change of site data once its backup has it, or the
 * witness kept it as acknowledged alone, and while it still may serve (replication.ts); else
 * the change is answered as not made. The site data's guards (backup-guard.ts) mark the writes,
 * wherever their routes are: so this hook is the appliance's, not encapsulated in a plugin.
 */
export const failoverAcknowledgement: FastifyPluginAsync<{ failover: FailoverRelationship }> =
  Object.assign(
    async (app: FastifyInstance, opts: { failover: FailoverRelationship }) => {
      app.addHook('onSend', async (req, reply, payload) => {
        if (!(req as { siteWrite?: boolean }).siteWrite || reply.statusCode >= 400) return payload;
        const refused = await opts.failover.acknowledgeWrite();
        if (!refused) return payload;
        void reply.code(refused.status).type('application/problem+json');
        return JSON.stringify(refused.toProblem(req.url));
      });
    },
    { [Symbol.for('skip-override')]: true },
  );
