/**
 * The error codes of lab/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const labErrors = errorCatalogue({
  LAB_BAD_FAULT: {
    status: 400,
    fix: 'Correct the fault named in the message (see `gatehouse lab fault --help`).',
  },
  LAB_BAD_OPTION: {
    status: 400,
    fix: 'Correct the option named in the message (see `gatehouse lab --help`).',
  },
  LAB_BAD_PREFIX: {
    status: 400,
    fix: 'Give a prefix of the form gh-<id>- (the one `gatehouse lab up` printed).',
  },
  LAB_DIR_NOT_EMPTY: {
    status: 409,
    fix: 'Run `gatehouse lab down --dir … --purge` to remove …, or give another --dir.',
  },
  LAB_NAT_BAD_TARGET: {
    status: 400,
    fix: 'Point the NAT at an appliance of the lab: GATEHOUSE_TARGET_ADDRESS must be in 198.18.0.0/15.',
  },
  LAB_NETNS_UNAVAILABLE: {
    status: 412,
    fix: 'Install the Debian packages named in the message (or run scripts/install-test-deps.sh).',
  },
  LAB_NETWORK_COMMAND_FAILED: {
    status: 500,
    fix: "Read the command output in the message; run as root with the lab's Debian packages installed.",
  },
  LAB_NOT_FOUND: { status: 404, fix: 'Start one with `gatehouse lab up --dir …`.' },
  LAB_NOT_NETNS: {
    status: 409,
    fix: 'Start the lab with `gatehouse lab up --network netns` to inject faults.',
  },
  LAB_NOT_STARTING: {
    status: 409,
    fix: 'Start the lab with `gatehouse lab up --network netns`; it runs this step itself.',
  },
  LAB_NO_SUCH_HOST: { status: 404, fix: 'Use one of the hosts the message lists.' },
  LAB_NO_UPDATE_SERVER: { status: 409, fix: 'Start a new lab.' },
  LAB_PUBLISH_FAILED: {
    status: 500,
    fix: 'Read the cause in the message, fix it and run the command again.',
  },
  LAB_RUNNING: {
    status: 409,
    fix: 'Run `gatehouse lab down --dir …` first, or give another --dir.',
  },
  LAB_SPAWN_FAILED: {
    status: 500,
    fix: 'Build first (`npm run build`) and check the lab directory is writable, then try again.',
  },
  LAB_START_FAILED: {
    status: 500,
    fix: 'Read the appliance log in the lab directory for the cause, then run `gatehouse lab up` again.',
  },
  LAB_STATE_UNREADABLE: {
    status: 500,
    fix: 'Stop its processes by hand (their pids are in the file) and remove the directory.',
  },
});
