import type { Evidence } from './advice.ts';

/**
 * The most hosts an evidence item names (the first by name), so an answer does not grow with
 * the fleet; `hostCount` then says how many there are in all. Free of runtime imports, so the
 * dashboard can use it too.
 */
export const HOSTS_PER_EVIDENCE = 8;

/** How many hosts an evidence item's figure was measured on. */
export const hostCountOf = (evidence: Evidence): number =>
  evidence.hostCount ?? evidence.hosts.length;
