import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../shared/fs.js';
import { trafficError, type HostsFileConfig, type TrafficSwitchProvider } from './switch-config.js';
import { trafficErrors } from './error-codes.js';

interface HostsLine {
  address: string;
  names: string[];
  comment: string;
}

/** Parse one hosts-format line; undefined for blank lines and whole-line comments. */
function parseLine(line: string): HostsLine | undefined {
  const hash = line.indexOf('#');
  const body = hash >= 0 ? line.slice(0, hash) : line;
  const [address, ...names] = body.trim().split(/\s+/);
  if (!address || names.length === 0) return undefined;
  return { address, names, comment: hash >= 0 ? line.slice(hash) : '' };
}

/**
 * Point the site hostname at an appliance in the hosts file (S18): one `<address> <hostname>`
 * line for the hostname; every other line and comment is kept as it was. Other names that shared
 * a line with the hostname stay on that line. The file is replaced atomically, so a resolver
 * reading it sees the old content or the new.
 */
export function rewriteHosts(text: string, hostname: string, address: string): string {
  const lines = text.length ? text.replace(/\n$/, '').split('\n') : [];
  const wanted = hostname.toLowerCase();
  const out: string[] = [];
  let placed = false;
  for (const line of lines) {
    const parsed = parseLine(line);
    if (!parsed || !parsed.names.some((n) => n.toLowerCase() === wanted)) {
      out.push(line);
      continue;
    }
    if (!placed) {
      out.push(`${address} ${hostname}`);
      placed = true;
    }
    const others = parsed.names.filter((n) => n.toLowerCase() !== wanted);
    if (others.length)
      out.push(
        [parsed.address, ...others].join(' ') + (parsed.comment ? ` ${parsed.comment}` : ''),
      );
  }
  if (!placed) out.push(`${address} ${hostname}`);
  return out.join('\n') + '\n';
}

/** The address the hostname resolves to in a hosts file (the first line naming it wins). */
export function lookupHosts(text: string, hostname: string): string | undefined {
  const wanted = hostname.toLowerCase();
  for (const line of text.split('\n')) {
    const parsed = parseLine(line);
    if (parsed?.names.some((n) => n.toLowerCase() === wanted)) return parsed.address;
  }
  return undefined;
}

export class HostsFileProvider implements TrafficSwitchProvider {
  readonly method = 'dns' as const;

  constructor(private readonly config: HostsFileConfig) {}

  describe(): string {
    return `DNS swing through the hosts file ${this.config.file} (hostname ${this.config.hostname})`;
  }

  async pointAt(target: { name: string; address: string }): Promise<void> {
    const { file, hostname } = this.config;
    let text = '';
    let mode = 0o644;
    try {
      text = await fsp.readFile(file, 'utf8');
      mode = (await fsp.stat(file)).mode & 0o7777;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw this.fileError(e, 'read');
    }
    try {
      await writeFileAtomic(file, rewriteHosts(text, hostname, target.address), mode);
    } catch (e) {
      throw this.fileError(e, 'replace');
    }
  }

  async current(): Promise<{ address: string } | undefined> {
    try {
      const address = lookupHosts(
        await fsp.readFile(this.config.file, 'utf8'),
        this.config.hostname,
      );
      return address ? { address } : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.fileError(e, 'read');
    }
  }

  private fileError(e: unknown, action: 'read' | 'replace') {
    const code = (e as NodeJS.ErrnoException).code;
    const file = this.config.file;
    const fix =
      code === 'EACCES' || code === 'EPERM'
        ? 'run Gatehouse as a user that may write it and its directory, or choose another file'
        : code === 'EBUSY' || code === 'EXDEV'
          ? 'it is a mount point (as in a container), which cannot be replaced atomically; choose a file in a writable directory'
          : 'check the path';
    return trafficError(
      action === 'read'
        ? trafficErrors.TRAFFIC_HOSTS_FILE_UNREADABLE
        : trafficErrors.TRAFFIC_HOSTS_FILE_UNWRITABLE,
      `file: cannot ${action} ${file} (${code ?? String(e)}); ${fix}.`,
      { field: 'file', cause: e },
    );
  }
}
