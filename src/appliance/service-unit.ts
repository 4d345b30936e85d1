import path from 'node:path';
import { fieldError } from '../shared/errors.js';

export interface ServiceUnitOptions {
  dataDir: string;
  listen: { host: string; port: number };
  /** The account the appliance runs as (made with `useradd --system`). */
  user: string;
  /** Whether the shared-IP traffic switch (S19) is used: `ip addr` and gratuitous ARP. */
  sharedIp: boolean;
  /** Absolute paths of node and of bin/gatehouse.js. */
  node: string;
  entry: string;
}

const TEMP = ['/tmp', '/var/tmp'];
const HOMES = ['/home', '/root', '/run/user'];
const under = (p: string, roots: string[]) => roots.some((r) => p === r || p.startsWith(`${r}/`));

/** A path in a unit file: absolute, and without characters systemd would split or expand. */
function unitPath(value: string, flag: string): string {
  if (!path.isAbsolute(value)) throw fieldError(flag, `${value} must be an absolute path`);
  if (/[\s"'\\%$;]/.test(value))
    throw fieldError(flag, `${value} contains a space, quote, % or $; choose a plain path`);
  return path.normalize(value);
}

/**
 * The systemd unit of a production appliance: its own user, no capability beyond binding
 * port 443 (and, for the shared-IP switch, adding addresses and sending gratuitous ARP), a
 * read-only system with the data directory the one writable place, and the supervisor's
 * graceful stop: SIGTERM to the supervisor alone, which stops its worker (in-flight requests
 * finish, sessions are recorded; the worker gives up after 30 s) before systemd's 45 s run out.
 */
export function serviceUnit(o: ServiceUnitOptions): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(o.user))
    throw fieldError('user', 'must be a system user name such as gatehouse');
  const dataDir = unitPath(o.dataDir, 'data-dir');
  const node = unitPath(o.node, 'node');
  const entry = unitPath(o.entry, 'entry');
  const host = o.listen.host.includes(':') ? `[${o.listen.host}]` : o.listen.host;
  const caps = ['CAP_NET_BIND_SERVICE', ...(o.sharedIp ? ['CAP_NET_ADMIN', 'CAP_NET_RAW'] : [])];
  const families = [
    'AF_UNIX',
    'AF_INET',
    'AF_INET6',
    ...(o.sharedIp ? ['AF_NETLINK', 'AF_PACKET'] : []),
  ];
  const paths = [dataDir, node, entry];
  // A private /tmp or hidden homes would hide the data directory or the code if they live there.
  const privateTmp = !paths.some((p) => under(p, TEMP));
  const protectHome = paths.some((p) => under(p, HOMES)) ? 'read-only' : 'yes';
  return `# Written by \`gatehouse appliance install-service\` (docs/operations.md).
[Unit]
Description=Gatehouse appliance (${dataDir})
Documentation=https://github.com/gatehouse/gatehouse/blob/main/docs/operations.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.user}
ExecStart=${node} ${entry} appliance start --data-dir ${dataDir} --listen ${host}:${o.listen.port}
WorkingDirectory=${dataDir}
Environment=NODE_ENV=production
# The supervisor restarts a crashed worker itself; systemd restarts the supervisor. Exit code 2
# is a refusal explained in the journal (address in use, bad data directory): not retried.
Restart=on-failure
RestartSec=5s
RestartPreventExitStatus=2
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=45s
LimitNOFILE=65536
UMask=0077

AmbientCapabilities=${caps.join(' ')}
CapabilityBoundingSet=${caps.join(' ')}
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${dataDir}
ProtectHome=${protectHome}
PrivateTmp=${privateTmp ? 'yes' : 'no'}
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictAddressFamilies=${families.join(' ')}
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
# No MemoryDenyWriteExecute: V8's JIT compiler needs writable, executable memory.

[Install]
WantedBy=multi-user.target
`;
}
