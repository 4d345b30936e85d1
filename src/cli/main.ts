import { Command } from 'commander';
import { PRODUCT_VERSION } from '../shared/version.js';
import { applianceCommand } from './appliance.js';
import { demoCommand } from './demo.js';
import { packageCommand } from './package.js';

const program = new Command('gatehouse')
  .description(
    'Gatehouse: privileged remote access appliances that upgrade whole deployments safely',
  )
  .version(PRODUCT_VERSION, '-V, --version', 'print the version of this software')
  .showHelpAfterError('(run with --help for usage)')
  // Options of the root (--version) only before a command: `package build --version V` is its own.
  .enablePositionalOptions()
  .addCommand(applianceCommand())
  .addCommand(packageCommand())
  .addCommand(demoCommand())
  .addCommand((await import('./update-server.js')).updateServerCommand());
program.addCommand((await import('./traffic.js')).trafficCommand());
program.addCommand((await import('./nat-forwarder.js')).natForwarderCommand());
program.addCommand((await import('./witness.js')).witnessCommand());
const clients = await import('./clients.js');
program.addCommand(clients.jumpClientCommand());
program.addCommand(clients.customerClientCommand());
program.addCommand(clients.consoleCommand());
program.addCommand((await import('./jump-clients-admin.js')).jumpClientsAdminCommand());
program.addCommand((await import('./upgrade.js')).upgradeCommand());
program.addCommand((await import('./integration.js')).integrationCommand());
program.addCommand((await import('./lab.js')).labCommand());
program.addCommand((await import('./syslog.js')).syslogCommand());

// Bad input on the command line (a missing or unknown option, a value out of its choices) exits
// 2, as bad input does everywhere else; --help and --version exit 0. Commander has printed the
// message (naming the option) by then.
const usageExits = (cmd: Command): void => {
  cmd.exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));
  for (const sub of cmd.commands) usageExits(sub);
};
usageExits(program);

await program.parseAsync(process.argv);
