import type { AdviceQuestion, HostFit } from '../../../contracts/advice.ts';
import type { Ranking } from './rank.ts';

/**
 * Which hosts can take the workload on the first option (and each option tied with it): how
 * many instances each host holds (the ranking's capacities), largest first.
 */
export function hostFits(question: AdviceQuestion, ranking: Ranking): HostFit[] {
  const tiedFirst = ranking.options.slice(0, Math.max(1, ranking.tied));
  return tiedFirst.flatMap((ranked) =>
    (ranking.fleet?.of(ranked.figures.option)?.hosts ?? [])
      .map(({ hostId, fits, why }) => ({
        hostId,
        placement: ranked.figures.option.placement,
        runtime: ranked.figures.option.runtime,
        fits,
        enough: fits >= question.instances,
        why: why(question.instances),
      }))
      .sort((a, b) => b.fits - a.fits),
  );
}
