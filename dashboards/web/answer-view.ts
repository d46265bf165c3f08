import type { Advice, AdviceOption, Evidence, ScorePart } from '../../contracts/advice.ts';
import { hostCountOf } from '../../contracts/evidence-hosts.ts';
import { scorePartsChart } from './charts.ts';
import { dataTable, el, scrolling } from './dom.ts';
import { formatAge, formatNumber, formatPercent, formatTime, optionName } from './format.ts';

function evidenceFreshness(evidence: Evidence, now: number): string {
  if (evidence.source === 'published') return 'published figure';
  const age = evidence.latestAt === undefined ? 'time unknown' : formatAge(now - evidence.latestAt);
  return `${evidence.stale ? 'stale' : 'fresh'}, newest ${age}`;
}

function evidenceTable(evidence: readonly Evidence[], now: number): HTMLElement {
  const rows = evidence.map((item) =>
    el(
      'tr',
      { 'data-testid': 'evidence-row', 'data-source': item.source },
      el(
        'td',
        {},
        el('span', {
          class: `badge ${item.source}`,
          text: item.source === 'published' ? 'published' : 'measured',
        }),
      ),
      el('td', { text: optionName(item.platform, item.runtime, item.accel) }),
      el('td', { text: `${item.workload} ${item.metric}` }),
      el('td', { text: `${formatNumber(item.value)} ${item.unit}` }),
      el('td', { text: item.used }),
      el('td', { text: item.source === 'published' ? '–' : String(item.samples) }),
      el('td', { text: evidenceFreshness(item, now) }),
      el('td', { text: hostsText(item) }),
      el('td', { class: 'note', text: item.note ?? '' }),
    ),
  );
  return scrolling(
    dataTable(
      { class: 'evidence', 'data-testid': 'evidence' },
      'Evidence',
      ['source', 'option', 'figure', 'value', 'used as', 'samples', 'freshness', 'hosts', 'note'],
      el('tbody', {}, ...rows),
    ),
  );
}

/** The mark of an option tied with the best score within measurement error. */
function tiedBadge(): HTMLElement {
  return el('span', {
    class: 'badge tied',
    'data-testid': 'tied',
    title: 'tied within measurement error with the best score',
    text: 'tied',
  });
}

/** " [76.9–82.6]": the interval after a figure, or '' when it is the figure at both ends. */
function intervalText(low: number, high: number): string {
  return low === high ? '' : ` [${formatNumber(low)}–${formatNumber(high)}]`;
}

const pointsText = (part: ScorePart): string =>
  `${formatNumber(part.points)}${intervalText(part.low, part.high)}`;

/** An option's score and its interval: "81.7 [76.9–82.6]", or "81.7". */
const scoreText = (option: AdviceOption): string =>
  `${formatNumber(option.score)}${intervalText(...option.scoreInterval)}`;

function optionItem(option: AdviceOption, rank: number, now: number): HTMLElement {
  const name = optionName(option.placement, option.runtime);
  const parts = dataTable(
    { class: 'parts', 'data-testid': 'score-parts' },
    'Score parts',
    ['part', 'weight', 'value', 'points', 'why'],
    el(
      'tbody',
      {},
      ...option.parts.map((part) =>
        el(
          'tr',
          { 'data-part': part.name },
          el('th', { scope: 'row', text: part.name }),
          el('td', { text: formatNumber(part.weight) }),
          el('td', { text: formatNumber(part.value) }),
          el('td', { text: pointsText(part) }),
          el('td', { class: 'why', text: part.why }),
        ),
      ),
    ),
  );
  return el(
    'li',
    {
      class: 'option',
      'data-testid': 'option',
      'data-placement': option.placement,
      'data-runtime': option.runtime,
      'data-rank': rank,
    },
    el(
      'h4',
      {},
      el('span', { class: 'rank', text: `${rank}.` }),
      ` ${name} `,
      el('span', {
        class: 'score',
        'data-testid': 'option-score',
        text: `${formatNumber(option.score)} points${intervalText(...option.scoreInterval)}`,
      }),
      option.tiedWithTop && ' ',
      option.tiedWithTop && tiedBadge(),
    ),
    option.hostsNeeded !== undefined &&
      el('p', {
        class: 'hosts-needed',
        'data-testid': 'hosts-needed',
        text: `needs ${option.hostsNeeded === 1 ? '1 host' : `${formatNumber(option.hostsNeeded)} hosts`}${option.fleetHolds === false ? ', more than the question names' : ''}`,
      }),
    scorePartsChart(option.parts, name),
    scrolling(parts),
    option.reasons.length > 0 &&
      el(
        'ul',
        { class: 'reasons', 'data-testid': 'reasons' },
        ...option.reasons.map((reason) => el('li', { text: reason })),
      ),
    evidenceTable(option.evidence, now),
  );
}

/** The hosts an item names, and how many more it counts. */
function hostsText(item: Evidence): string {
  if (item.hosts.length === 0) return '–';
  const more = hostCountOf(item) - item.hosts.length;
  return more > 0 ? `${item.hosts.join(', ')} and ${more} more` : item.hosts.join(', ');
}

/** The evidence behind the answer in one line: samples, freshness, hosts and published figures. */
function evidenceSummary(advice: Advice, now: number): string {
  const all = advice.options.flatMap((option) => option.evidence);
  const measured = all.filter((item) => item.source === 'measured');
  const samples = measured.reduce((sum, item) => sum + item.samples, 0);
  const hosts = [...new Set(measured.flatMap((item) => item.hosts))].sort();
  const hostCount = Math.max(hosts.length, ...measured.map(hostCountOf));
  const newest = Math.max(...measured.map((item) => item.latestAt ?? 0));
  const stale = measured.filter((item) => item.stale).length;
  const published = all.filter((item) => item.source === 'published').length;
  return [
    `${measured.length} measured figures from ${samples} samples`,
    hostCount === 0
      ? 'no host measured'
      : hostCount > hosts.length
        ? `${hostCount} hosts`
        : `hosts ${hosts.join(', ')}`,
    newest > 0 ? `newest measured ${formatAge(now - newest)}` : undefined,
    `${stale} stale`,
    `${published} published figures`,
  ]
    .filter((part) => part !== undefined)
    .join('; ');
}

/**
 * The answer in one line: the advisor's verdict; for an answer given before answers carried
 * one, the first option and its score, or that every option was ruled out.
 */
function verdictText(advice: Advice): string {
  if (advice.verdict !== undefined) return advice.verdict;
  const [first] = advice.options;
  return first === undefined
    ? 'No option fits: the rules ruled out every option.'
    : `Run it as ${optionName(first.placement, first.runtime)} (score ${scoreText(first)}).`;
}

/** The hosts an option needs, in a table cell's words: "2", "3, beyond the question's". */
function hostsNeededText(option: AdviceOption): string {
  if (option.hostsNeeded === undefined) return '–';
  return option.fleetHolds === false
    ? `${formatNumber(option.hostsNeeded)}, beyond the question's hosts`
    : formatNumber(option.hostsNeeded);
}

/** The instances each of the question's hosts holds on an option: "a 40, b 12". */
const fitsText = (option: AdviceOption): string =>
  option.fits === undefined || option.fits.length === 0
    ? '–'
    : option.fits.map((fit) => `${fit.hostId} ${formatNumber(fit.fits)}`).join(', ');

/**
 * An option's start-up as its evidence gives it: the p95 where measured (the figure the
 * start-up budget rule reads), else the first start-up figure with what it is.
 */
function startupText(option: AdviceOption): { text: string; title: string } {
  const startups = option.evidence.filter((item) => item.metric === 'startup');
  const p95 = startups.find((item) => item.used.startsWith('p95'));
  const figure = p95 ?? startups[0];
  if (figure === undefined) return { text: '–', title: 'no start-up figure' };
  const kind = p95 !== undefined ? 'p95' : figure.source === 'published' ? 'published' : 'mean';
  return { text: `${formatNumber(figure.value)} ${figure.unit} ${kind}`, title: figure.used };
}

/**
 * The options side by side, in the answer's order: score with its interval, the hosts the
 * instances need and what each host holds, start-up, and the mark of a tie with the top.
 */
function optionsAtAGlance(options: readonly AdviceOption[]): HTMLElement {
  return scrolling(
    dataTable(
      { class: 'options-summary', 'data-testid': 'options-summary' },
      'The options side by side',
      ['option', 'score [interval]', 'hosts needed', 'instances per host', 'start-up', 'tie'],
      el(
        'tbody',
        {},
        ...options.map((option, index) => {
          const startup = startupText(option);
          return el(
            'tr',
            {
              'data-testid': 'options-summary-row',
              'data-placement': option.placement,
              'data-runtime': option.runtime,
              'data-rank': index + 1,
            },
            el('th', {
              scope: 'row',
              text: `${index + 1}. ${optionName(option.placement, option.runtime)}`,
            }),
            el('td', { text: scoreText(option) }),
            el('td', { text: hostsNeededText(option) }),
            el('td', { text: fitsText(option) }),
            el('td', { title: startup.title, text: startup.text }),
            el('td', {}, option.tiedWithTop && tiedBadge()),
          );
        }),
      ),
    ),
  );
}

/**
 * An answer in full: its verdict line first, the options side by side, then the details:
 * the ranking with score parts and evidence, the ruled-out options, the confidence, what
 * would change it and the hosts that fit.
 */
export function answerView(advice: Advice): HTMLElement {
  const now = Date.now();
  return el(
    'article',
    { class: 'answer', 'data-testid': 'answer', 'data-advice-id': advice.id },
    el('p', { class: 'verdict', 'data-testid': 'verdict', text: verdictText(advice) }),
    advice.options.length > 0 && optionsAtAGlance(advice.options),
    el(
      'p',
      { class: 'answer-meta' },
      'Answer ',
      el('code', { 'data-testid': 'answer-id', text: advice.id }),
      ` for "${advice.question.workload}", ${formatTime(advice.answeredAt)}.`,
    ),
    el(
      'section',
      { class: 'confidence', 'data-testid': 'confidence' },
      el(
        'h3',
        {},
        'Confidence ',
        el('span', {
          'data-testid': 'confidence-value',
          text: formatPercent(advice.confidence.value),
        }),
      ),
      el('meter', {
        min: 0,
        max: 1,
        value: advice.confidence.value,
        'aria-label': `confidence ${formatPercent(advice.confidence.value)}`,
      }),
      el('ul', {}, ...advice.confidence.restsOn.map((line) => el('li', { text: line }))),
    ),
    el('p', {
      class: 'evidence-summary',
      'data-testid': 'evidence-summary',
      text: evidenceSummary(advice, now),
    }),
    el('h3', { text: 'Ranked options' }),
    advice.tieBreak !== undefined &&
      el('p', {
        class: 'tie-break',
        'data-testid': 'tie-break',
        'data-rule': advice.tieBreak.rule,
        text: advice.tieBreak.sentence,
      }),
    advice.options.length === 0
      ? el('p', { 'data-testid': 'no-options', text: 'Every option was ruled out.' })
      : el(
          'ol',
          { class: 'options', 'data-testid': 'options' },
          ...advice.options.map((option, index) => optionItem(option, index + 1, now)),
        ),
    el('h3', { text: 'Ruled out' }),
    advice.ruledOut.length === 0
      ? el('p', { text: 'No option was ruled out.' })
      : el(
          'ul',
          { class: 'ruled-out', 'data-testid': 'ruled-out' },
          ...advice.ruledOut.map((ruled) =>
            el(
              'li',
              {
                'data-testid': 'ruled-out-option',
                'data-placement': ruled.placement,
                'data-rule': ruled.rule,
              },
              el('strong', { text: optionName(ruled.placement, ruled.runtime) }),
              ' ',
              el('code', { class: 'rule', text: ruled.rule }),
              ': ',
              ruled.sentence,
            ),
          ),
        ),
    el('h3', { text: 'What would change the answer' }),
    el(
      'ul',
      { class: 'what-would-change', 'data-testid': 'what-would-change' },
      ...advice.whatWouldChange.map((line) => el('li', { text: line })),
    ),
    advice.hosts.length > 0 &&
      scrolling(
        dataTable(
          { class: 'fits', 'data-testid': 'host-fits' },
          'Hosts that fit the first option',
          ['host', 'option', 'instances', 'enough', 'why'],
          el(
            'tbody',
            {},
            ...advice.hosts.map((fit) =>
              el(
                'tr',
                {},
                el('th', { scope: 'row', text: fit.hostId }),
                el('td', { text: optionName(fit.placement, fit.runtime) }),
                el('td', { text: String(fit.fits) }),
                el('td', { text: fit.enough ? 'yes' : 'no' }),
                el('td', { class: 'why', text: fit.why }),
              ),
            ),
          ),
        ),
      ),
  );
}
