import { SENSITIVITY_NAMES, type SensitivityName } from '../../../contracts/workloads.ts';
import { gatherFacts, type Facts } from './facts.ts';
import type { EvidenceSource } from './types.ts';

/**
 * Facts gathered once and reused for every question over the same evidence rows, inventory and
 * host list, for as long as they hold: from the moment they were gathered until the first row
 * turns stale (`Facts.validUntil`). Reused facts are exactly the facts gathered anew, so an
 * answer from them is the answer `advise` gives. The source's arrays are compared by identity:
 * a caller hands over new arrays when its rows or inventory change.
 */
export interface FactsMemo {
  /**
   * The facts of `source`, counting only the hosts of `only` when it names any, with the
   * throughput of `sensitivities` at least (every one unless given). The whole fleet's facts
   * cover every sensitivity, so they serve every question; a host list's cover those asked,
   * since a list is seldom asked about again and most of the rest would go unread.
   */
  factsOf(
    source: EvidenceSource,
    only?: readonly string[],
    sensitivities?: readonly SensitivityName[],
  ): Facts;
}

/**
 * Keeps the facts of up to `most` host lists and sensitivities (the whole fleet is one) for
 * the newest source.
 */
export function createFactsMemo(most = 32): FactsMemo {
  let evidence: EvidenceSource['evidence'] | undefined;
  let hosts: EvidenceSource['hosts'] | undefined;
  let staleAfterMs: number | undefined;
  const held = new Map<string, Facts>();

  return {
    factsOf: (source, only = [], sensitivities = SENSITIVITY_NAMES) => {
      if (
        source.evidence !== evidence ||
        source.hosts !== hosts ||
        source.staleAfterMs !== staleAfterMs
      ) {
        held.clear();
        ({ evidence, hosts, staleAfterMs } = source);
      }
      const hostIds = [...new Set(only)].sort();
      const covered =
        hostIds.length === 0
          ? SENSITIVITY_NAMES
          : SENSITIVITY_NAMES.filter((name) => sensitivities.includes(name));
      const key = JSON.stringify([hostIds, covered]);
      const found = held.get(key);
      held.delete(key);
      if (found !== undefined && found.now <= source.now && source.now <= found.validUntil) {
        held.set(key, found);
        return found;
      }
      const facts = gatherFacts(source, only, covered);
      held.set(key, facts);
      for (const oldest of held.keys()) {
        if (held.size <= most) break;
        held.delete(oldest);
      }
      return facts;
    },
  };
}
