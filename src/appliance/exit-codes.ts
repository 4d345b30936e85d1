/**
 * How an appliance worker tells its supervisor why it exited (sysexits-style numbers).
 * Any other non-zero code is a crash.
 */
export const EXIT_RESTART = 75; // a product was installed: start the new slot
export const EXIT_REBOOT = 76; // a base was installed: the whole appliance restarts
