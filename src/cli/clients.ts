/**
 * The client commands of the `gatehouse` CLI, by client: options they share (options.ts), the
 * Jump Client and customer client (jump-client-commands.ts), the console (console-commands.ts).
 */
export { fingerprintOption, secretFrom } from './options.js';
export { customerClientCommand, jumpClientCommand } from './jump-client-commands.js';
export { consoleCommand } from './console-commands.js';
