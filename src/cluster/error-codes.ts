/**
 * The error codes of cluster/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const clusterErrors = errorCatalogue({
  CLUSTER_KEY_MISMATCH: {
    status: 400,
    fix: 'Set the same key on both appliances (Management > Security), then add the node with it.',
  },
  CLUSTER_NODE_ALREADY_MEMBER: { status: 409, fix: 'Remove it from that cluster first.' },
  CLUSTER_NODE_EXISTS: { status: 409, fix: 'Edit the existing node instead of adding it again.' },
  CLUSTER_NODE_IN_FAILOVER: { status: 409, fix: 'Break it there first.' },
  CLUSTER_NODE_IS_PRIMARY: { status: 409, fix: 'Remove its traffic nodes first.' },
  CLUSTER_NODE_NOT_FOUND: {
    status: 404,
    fix: 'The nodes are listed on /login > Management > Cluster.',
  },
  CLUSTER_NODE_SELF: { status: 400, fix: "Enter a traffic node's address." },
  CLUSTER_NODE_UNREACHABLE: {
    status: 502,
    fix: 'Check that the traffic node runs and that its address, port and fingerprint are right, then try again.',
  },
  CLUSTER_NONE: {
    status: 409,
    fix: 'Add traffic nodes first (/login > Management > Cluster), or install on each appliance.',
  },
  CLUSTER_NOT_A_NODE: {
    status: 409,
    fix: "Add it on the primary node's /login > Management > Cluster.",
  },
  CLUSTER_ON_BACKUP: {
    status: 409,
    fix: 'Do this on the primary; the backup receives it by synchronisation.',
  },
  CLUSTER_ON_TRAFFIC_NODE: { status: 409, fix: 'Do this on the primary node of the cluster.' },
});
