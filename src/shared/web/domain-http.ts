import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions } from 'fastify';
import {
  registerOperations,
  type AnyOperation,
  type Area,
  type Operation,
  type OperationHost,
  type RouteGuard,
} from '../http/operations.js';
import { pages, type PageHost, type Pages } from './kit.js';
import type { PageGuard } from './navigation.js';

/**
 * A domain's HTTP plugin with the operations it registers: the one list its routes and the
 * appliance's OpenAPI document are both made from (a second list kept by hand drifted once).
 */
export type DomainHttp<O extends FastifyPluginOptions> = FastifyPluginAsync<O> & {
  readonly operations: AnyOperation[];
};

/** Mark `plugin` as registering exactly `operations` (see DomainHttp). */
export function domainHttp<O extends FastifyPluginOptions>(
  operations: AnyOperation[],
  plugin: FastifyPluginAsync<O>,
): DomainHttp<O> {
  return Object.assign(plugin, { operations });
}

/** What a domain's administration (its API and its pages of one area) is given by the appliance. */
export interface AdminOptions<C> {
  /** The page host of the area, seeing the appliance as the domain's own view `C`. */
  pages: PageHost<C>;
  /** How the admin API checks sessions (the appliance's accounts). */
  authenticate: OperationHost<C>['authenticate'];
  /** When the API refuses changes (site data: a failover backup receives it by sync). */
  apiGuard?: RouteGuard;
  /** When the pages give way (a failover backup hides them: the primary manages them). */
  pageGuard?: PageGuard;
}

/**
 * Register a domain's admin operations (behind `apiGuard`) and return the registrar of its pages
 * of `area` (behind `pageGuard`).
 */
export function adminSurface<C>(
  app: FastifyInstance,
  opts: AdminOptions<C>,
  area: Area,
  operations: Operation<unknown, unknown, unknown, C>[],
): Pages<C> {
  const host = { context: opts.pages.context, authenticate: opts.authenticate };
  registerOperations(app, host, operations, opts.apiGuard);
  return pages(app, opts.pages, area, opts.pageGuard);
}
