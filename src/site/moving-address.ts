/**
 * An address by which the site is reached that follows the primary role, and what moves it
 * (S14, S19): a shared address, the site hostname, whatever the traffic switch moves. Traffic
 * lists them (`movingAddresses`, src/traffic/settings.ts); failover refuses them as an
 * appliance's own address (src/failover/relationship-addresses.ts).
 */
export interface MovingAddress {
  address: string;
  why: string;
}
