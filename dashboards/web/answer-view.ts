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

/** " [76.9–82.6]": the interval after a figure, or '' when it is the figure at both ends. */
function intervalText(low: number, high: number): string {
  return low === high ? '' : ` [${formatNumber(low)}–${formatNumber(high)}]`;
}

const pointsText = (part: ScorePart): string =>
  `${formatNumber(part.points)}${intervalText(part.low, part.high)}`;

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
      option.tiedWithTop &&
        el('span', {
          class: 'badge tied',
          'data-testid': 'tied',
          title: 'tied within measurement error with the best score',
          text: 'tied',
        }),
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

/** An answer in full: its verdict line, ranking, ruled-out options, evidence, confidence, what would change it. */
export function answerView(advice: Advice): HTMLElement {
  const now = Date.now();
  return el(
    'article',
    { class: 'answer', 'data-testid': 'answer', 'data-advice-id': advice.id },
    advice.verdict !== undefined &&
      el('p', { class: 'verdict', 'data-testid': 'verdict', text: advice.verdict }),
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
