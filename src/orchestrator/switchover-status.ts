import type { Deployment } from './deployment.js';

/** How long `upgrade status` waits on one appliance: a status command must not hang on a dead host. */
const PER_APPLIANCE_MS = 4_000;

export const SCHEDULED_SWITCHOVER_PATH = '/api/login/failover/scheduled-switchover';

interface ScheduledSwitchover {
  at: string;
  scheduledAt: string;
  scheduledBy: string;
}

export type SwitchoverStatus =
  | { appliance: string; scheduled: ScheduledSwitchover }
  | { appliance: string; unreachable: string };

function withinDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * The scheduled planned switchovers (issue 22) of the inventory's appliances, asked live:
 * the journal knows only the orchestrator's own windows, an appliance keeps its own schedule.
 */
export async function scheduledSwitchovers(
  d: Deployment,
  perApplianceMs = PER_APPLIANCE_MS,
): Promise<SwitchoverStatus[]> {
  const answers = await Promise.all(
    d.inventory.appliances.map(async ({ name }): Promise<SwitchoverStatus | null> => {
      try {
        const view = await withinDeadline(
          d.call<{ scheduledSwitchover?: ScheduledSwitchover | null }>(
            name,
            'GET',
            '/api/login/failover',
          ),
          perApplianceMs,
        );
        return view.scheduledSwitchover
          ? { appliance: name, scheduled: view.scheduledSwitchover }
          : null;
      } catch (e) {
        return { appliance: name, unreachable: (e as Error).message };
      }
    }),
  );
  return answers.filter((s): s is SwitchoverStatus => s !== null);
}

export function renderSwitchovers(list: SwitchoverStatus[]): string {
  if (list.length === 0) return 'Scheduled switchovers: none\n';
  return list
    .map((s) =>
      'scheduled' in s
        ? `Scheduled switchover: ${s.appliance} becomes primary at ${s.scheduled.at} (cancel: DELETE ${SCHEDULED_SWITCHOVER_PATH} on ${s.appliance})\n`
        : `Scheduled switchover: ${s.appliance} unreachable (${s.unreachable})\n`,
    )
    .join('');
}
