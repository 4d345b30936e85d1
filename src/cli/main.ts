import { Command } from 'commander';
import { PRODUCT_VERSION } from '../shared/version.js';
import { applianceCommand } from './appliance.js';
import { demoCommand } from './demo.js';

const program = new Command('gatehouse')
  .description(
    'Gatehouse: privileged remote access appliances that upgrade whole deployments safely',
  )
  .version(PRODUCT_VERSION, '-V, --version', 'print the version of this software')
  .showHelpAfterError('(run with --help for usage)')
  .addCommand(applianceCommand())
  .addCommand(demoCommand())
  .addCommand((await import('./update-server.js')).updateServerCommand());

await program.parseAsync(process.argv);
