import type { Advice } from '../../contracts/advice.ts';
import type { AdviceList, AdviceSummary } from '../../contracts/advisor-api.ts';
import { getJson, withQuery } from './api.ts';
import { answerView } from './answer-view.ts';
import { dataTable, el, scrolling } from './dom.ts';
import { formatPercent, formatTime } from './format.ts';

const PAGE = 25;

/**
 * The History view: past answers from the audit log, newest first, a page at a time; each
 * one opens again in full with the evidence it rested on.
 */
export function createHistoryView(panel: HTMLElement): { refresh(): Promise<void> } {
  const body = el('tbody', {});
  const more = el('button', {
    type: 'button',
    id: 'history-more',
    'data-testid': 'history-more',
    text: 'Older answers',
  });
  const reload = el('button', {
    type: 'button',
    id: 'history-refresh',
    'data-testid': 'history-refresh',
    text: 'Refresh',
  });
  const status = el('p', {
    class: 'status',
    'data-testid': 'history-status',
    role: 'status',
    'aria-live': 'polite',
  });
  const opened = el('div', {
    id: 'history-answer',
    'data-testid': 'history-answer',
    'aria-live': 'polite',
  });
  panel.append(
    el('h2', { text: 'History' }),
    reload,
    scrolling(
      dataTable(
        { id: 'history', 'data-testid': 'history' },
        'Past answers, newest first',
        ['answered', 'workload', 'first option', 'confidence', ''],
        body,
      ),
    ),
    more,
    status,
    opened,
  );
  let oldest: number | undefined;

  const open = async (id: string): Promise<void> => {
    status.textContent = `Opening ${id}…`;
    const advice = await getJson<Advice>(`v1/advice/${encodeURIComponent(id)}`);
    opened.replaceChildren(el('h3', { text: `Answer ${id}` }), answerView(advice));
    status.textContent = '';
    opened.scrollIntoView({ block: 'start' });
  };

  const row = (summary: AdviceSummary): HTMLElement => {
    const button = el('button', {
      type: 'button',
      'data-testid': 'history-open',
      'data-advice-id': summary.id,
      'aria-label': `Open answer ${summary.id} for ${summary.workload}`,
      text: 'Open',
    });
    button.addEventListener('click', () => {
      open(summary.id).catch((error: unknown) => {
        status.textContent = `Could not open ${summary.id}: ${String(error)}`;
      });
    });
    return el(
      'tr',
      { 'data-testid': 'history-row', 'data-advice-id': summary.id },
      el('td', { text: formatTime(summary.answeredAt) }),
      el('td', { text: summary.workload }),
      el('td', {
        text: summary.topPlacement === '' ? 'none (all ruled out)' : summary.topPlacement,
      }),
      el('td', { text: formatPercent(summary.confidence) }),
      el('td', {}, button),
    );
  };

  const load = async (before: number | undefined): Promise<void> => {
    const { answers } = await getJson<AdviceList>(withQuery('v1/advice', { limit: PAGE, before }));
    if (before === undefined) body.replaceChildren();
    body.append(...answers.map(row));
    oldest = answers.at(-1)?.answeredAt ?? oldest;
    more.hidden = answers.length < PAGE;
    status.textContent = body.children.length === 0 ? 'No answer has been given yet.' : '';
  };

  const loadShowingErrors = (before: number | undefined): void => {
    load(before).catch((error: unknown) => {
      status.textContent = `Could not load the answers: ${String(error)}`;
    });
  };
  more.addEventListener('click', () => {
    loadShowingErrors(oldest);
  });
  reload.addEventListener('click', () => {
    loadShowingErrors(undefined);
  });
  return { refresh: () => load(undefined) };
}
