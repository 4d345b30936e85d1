/** Who did something: written with every event. */
export interface Actor {
  area: 'appliance' | 'login' | 'system';
  name: string;
  ip?: string;
}

export const SYSTEM: Actor = { area: 'system', name: 'system' };
