/**
 * The error codes of traffic/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const trafficErrors = errorCatalogue({
  TRAFFIC_COMMAND_BAD_OUTPUT: {
    status: 502,
    fix: "Make the first line of the current-target command's output the address traffic goes to now (currentArgv).",
  },
  TRAFFIC_COMMAND_FAILED: {
    status: 502,
    fix: 'Run the command the message names by hand and fix what it reports; the traffic switch did not happen.',
  },
  TRAFFIC_COMMAND_NOT_RUNNABLE: {
    status: 500,
    fix: 'Give the full path of an executable program for the field the message names.',
  },
  TRAFFIC_COMMAND_TIMED_OUT: {
    status: 504,
    fix: 'Make the command faster or raise timeoutMs.',
  },
  TRAFFIC_DNS_BAD_ANSWER: {
    status: 502,
    fix: "Check that the server and port are a DNS server's.",
  },
  TRAFFIC_DNS_FAILED: {
    status: 502,
    fix: "See the DNS server's log for why it refused the change; nothing was changed.",
  },
  TRAFFIC_DNS_NOTAUTH: {
    status: 502,
    fix: "Give the zone's primary server and the zone exactly as it is configured there; nothing was changed.",
  },
  TRAFFIC_DNS_NOTIMP: {
    status: 502,
    fix: 'Enable dynamic updates for the zone on the DNS server (BIND: update-policy; PowerDNS: dnsupdate=yes).',
  },
  TRAFFIC_DNS_NOTZONE: {
    status: 502,
    fix: 'Give the zone that contains the site hostname; nothing was changed.',
  },
  TRAFFIC_DNS_REFUSED: {
    status: 502,
    fix: "Check the TSIG secret, and allow the key to update the hostname in the server's update policy.",
  },
  TRAFFIC_DNS_SERVFAIL: {
    status: 502,
    fix: "See the DNS server's log (a read-only zone file or journal, or a secondary zone); nothing was changed.",
  },
  TRAFFIC_DNS_TSIG_REJECTED: {
    status: 502,
    fix: 'Give the key name, algorithm and secret exactly as the DNS server has them, and check both clocks.',
  },
  TRAFFIC_DNS_UNREACHABLE: {
    status: 502,
    also: [504],
    fix: 'Check the server address and port, and that a firewall lets DNS through.',
  },
  TRAFFIC_DNS_UNVERIFIED_ANSWER: {
    status: 502,
    fix: 'Check the TSIG key on both sides: the answer to the update was not signed with it, so the change may not have been made.',
  },
  TRAFFIC_HOSTS_FILE_UNREADABLE: {
    status: 500,
    fix: 'Run Gatehouse as a user that may read the hosts file, or check its path.',
  },
  TRAFFIC_HOSTS_FILE_UNWRITABLE: {
    status: 500,
    fix: 'Run Gatehouse as a user that may write the file and its directory, or choose a file in a writable directory (not a mount point).',
  },
  TRAFFIC_NAT_FORWARDER_BAD_REQUEST: {
    status: 400,
    also: [413],
    fix: 'Send a small JSON body: {"address": "192.0.2.10", "port": 443}.',
  },
  TRAFFIC_NAT_FORWARDER_BAD_TARGET: {
    status: 400,
    fix: 'Give the target as ADDRESS:PORT, e.g. 192.0.2.11:443.',
  },
  TRAFFIC_NAT_FORWARDER_FAILED: {
    status: 500,
    fix: 'The forwarder could not apply the change; its log says why. Try again once it is fixed.',
  },
  TRAFFIC_NAT_FORWARDER_METHOD: { status: 405, fix: 'Use GET or PUT on /target.' },
  TRAFFIC_NAT_FORWARDER_NOT_FOUND: { status: 404, fix: 'Use /target.' },
  TRAFFIC_NAT_FORWARDER_STATE_DAMAGED: {
    status: 500,
    fix: 'Remove the damaged state file the message names and set the target again with PUT /target.',
  },
  TRAFFIC_NAT_FORWARDER_UNAUTHORIZED: {
    status: 401,
    fix: 'Send the token the forwarder printed at its first start (also in control-token in its data directory) as a bearer token.',
  },
  TRAFFIC_NAT_FORWARDER_UNREACHABLE: {
    status: 502,
    fix: 'Check that the NAT forwarder runs and that the control address is its control API.',
  },
  TRAFFIC_SHARED_IP_FAILED: {
    status: 500,
    fix: 'Check the network device and the address the message names; nothing was changed.',
  },
  TRAFFIC_SHARED_IP_NOT_PERMITTED: {
    status: 403,
    fix: 'Run the appliance as root or give it CAP_NET_ADMIN and CAP_NET_RAW.',
  },
  TRAFFIC_SHARED_IP_TOOL_MISSING: {
    status: 500,
    fix: 'Install the package the message names (iputils-arping or iproute2).',
  },
  TRAFFIC_NOT_CONFIGURED: {
    status: 409,
    fix: 'Choose its method and settings under Networking > Traffic Switch first.',
  },
  TRAFFIC_NO_ADDRESS: {
    status: 409,
    fix: 'Add one under Networking > IP Configuration, or give the address.',
  },
});
