import { waitDrained } from './drain.js';
import type { Action } from './plan-types.js';
import type { ExecContext } from './exec-context.js';
import { distribute, install, installMany, stage } from './step-packages.js';
import { backup, integrity, verify } from './step-checks.js';
import {
  backupOperations,
  becomeRole,
  breakPair,
  clusterSync,
  establish,
  setAccepting,
  switchTraffic,
  sync,
} from './step-roles.js';

export { inScope, type ExecContext } from './exec-context.js';

type Handler<K extends Action['type']> = (
  ctx: ExecContext,
  action: Extract<Action, { type: K }>,
) => Promise<unknown>;

/**
 * The handler of each kind of step; the type makes sure every kind has one. The handlers live
 * by what they touch: packages (step-packages.ts), checks of the data (step-checks.ts), roles
 * and traffic (step-roles.ts), the drain (drain.ts).
 */
const HANDLERS: { [K in Action['type']]: Handler<K> } = {
  integrity: (ctx, a) => integrity(ctx, a.phase),
  backup: (ctx, a) => backup(ctx, a.appliance),
  sync,
  break: breakPair,
  stage: (ctx, a) => stage(ctx, a.appliance, ctx.plan.packages),
  distribute: (ctx, a) => distribute(ctx, a.primary),
  install: (ctx, a) => install(ctx, a.appliance, ctx.plan.packages),
  'install-many': (ctx, a) => installMany(ctx, a.appliances, ctx.plan.packages),
  'set-accepting': setAccepting,
  'wait-drained': (ctx, a) => waitDrained(ctx, a.nodes, !!ctx.waitedBefore),
  'become-backup': (ctx, a) => becomeRole(ctx, a.appliance, 'backup'),
  'become-primary': (ctx, a) => becomeRole(ctx, a.appliance, 'primary'),
  'backup-operations': backupOperations,
  'switch-traffic': (ctx, a) => switchTraffic(ctx, a.from, a.to),
  'cluster-sync': clusterSync,
  establish,
  verify,
  pause: () => Promise.resolve({ paused: true }),
};

/** Carry out one step. Each is idempotent: it looks at the appliance first and does only what is missing. */
export async function execute(ctx: ExecContext, action: Action): Promise<unknown> {
  const handler = HANDLERS[action.type] as Handler<Action['type']>;
  return handler(ctx, action);
}
