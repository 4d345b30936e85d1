import type { SyslogForwarder } from '../forwarder.js';
import type { SyslogSettings } from '../settings.js';

/** What Management > Syslog and its API need: the settings, and the forwarder once started. */
export interface SyslogSite {
  readonly syslogSettings: SyslogSettings;
  readonly syslog: Pick<SyslogForwarder, 'status'> | undefined;
}
