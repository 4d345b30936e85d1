import type { Area, RouteGuard } from '../http/operations.js';

export interface NavLink {
  href: string;
  label: string;
}

/** A guard of pages that also says when it hides them, so their links go with them. */
export type PageGuard = RouteGuard & { hides?: () => boolean };

interface NavEntry extends NavLink {
  order: number;
  hidden?: () => boolean;
}

/**
 * The side navigation of each area, filled by whoever registers the pages (a domain's plugin
 * or the appliance's own pages, through `Pages.link`), not written in one list: a section's
 * link comes and goes with its pages. `order` places it among the area's links.
 */
export class Navigation {
  private readonly entries: Record<Area, NavEntry[]> = { appliance: [], login: [] };

  add(area: Area, link: NavLink, order: number, hidden?: () => boolean): void {
    const list = this.entries[area].filter((e) => e.href !== link.href);
    list.push({ ...link, order, hidden });
    this.entries[area] = list.sort((a, b) => a.order - b.order);
  }

  /** The area's links shown now, in order, and those hidden now (their guard hides the pages). */
  of(area: Area): { shown: NavLink[]; hidden: NavLink[] } {
    const shown: NavLink[] = [];
    const hidden: NavLink[] = [];
    for (const e of this.entries[area])
      (e.hidden?.() ? hidden : shown).push({ href: e.href, label: e.label });
    return { shown, hidden };
  }
}
