import type { TrafficSwitchSettings } from '../settings.js';

/** What the Traffic Switch page and API need of the appliance they run in: its switch. */
export interface TrafficSite {
  readonly traffic: TrafficSwitchSettings;
}
