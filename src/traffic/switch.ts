import {
  parseTrafficSwitchConfig,
  type TrafficSwitchConfigInput,
  type TrafficSwitchProvider,
} from './switch-config.js';

export * from './switch-config.js';

/** The provider for a validated configuration (parse it first with parseTrafficSwitchConfig). */
export async function providerFor(
  config: TrafficSwitchConfigInput,
): Promise<TrafficSwitchProvider> {
  const c = parseTrafficSwitchConfig(config);
  // Each provider loads its own modules only when used: the CLI's --help stays fast.
  switch (c.provider) {
    case 'shared-ip':
      return new (await import('./shared-ip.js')).SharedIpProvider(c);
    case 'hosts-file':
      return new (await import('./hosts-file.js')).HostsFileProvider(c);
    case 'rfc2136':
      return new (await import('./dns/rfc2136.js')).Rfc2136Provider(c);
    case 'command':
      return new (await import('./nat/command.js')).CommandProvider(c);
    case 'nat-forwarder':
      return new (await import('./nat/forwarder-client.js')).NatForwarderProvider(c);
  }
}
