import 'uplot/dist/uPlot.min.css';
import './style.css';
import { storeToken, takeTokenFromAddress, UNAUTHORIZED_EVENT } from './api.ts';
import { createAskView } from './ask.ts';
import { byId } from './dom.ts';
import { createFleetView } from './fleet.ts';
import { createHistoryView } from './history.ts';
import { createMeasurementsView } from './measurements.ts';
import { connectSocket } from './socket.ts';

const VIEWS = ['ask', 'fleet', 'measurements', 'history'] as const;
type ViewName = (typeof VIEWS)[number];

/**
 * The dashboard: four views as tabs (the address's #ask, #fleet, #measurements, #history),
 * all fed by the advisor's API and its WebSocket on the same address.
 */
function start(): void {
  takeTokenFromAddress();
  const socket = connectSocket(byId('connection'));
  const pageStatus = byId('page-status');
  const problem = (what: string) => (error: unknown) => {
    pageStatus.textContent = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  };

  const historyView = createHistoryView(byId('view-history'));
  const ask = createAskView(byId('view-ask'), socket, () => {
    if (current === 'history') historyView.refresh().catch(problem('history'));
  });
  const fleet = createFleetView(byId('view-fleet'), socket, (hostIds) => {
    ask.setKnownHosts(hostIds);
  });
  const measurements = createMeasurementsView(byId('view-measurements'));
  /** New results come in bursts: one reload at a time, and one more after it if any came. */
  let measuring: Promise<void> | undefined;
  let measureAgain = false;
  const refreshMeasurements = (): void => {
    if (measuring !== undefined) {
      measureAgain = true;
      return;
    }
    measuring = measurements
      .refresh()
      .catch(problem('measurements'))
      .finally(() => {
        measuring = undefined;
        if (measureAgain) {
          measureAgain = false;
          refreshMeasurements();
        }
      });
  };
  const refreshers: Record<ViewName, () => Promise<void>> = {
    ask: () => Promise.resolve(),
    fleet: () => fleet.refresh(),
    measurements: () => measurements.refresh(),
    history: () => historyView.refresh(),
  };

  let current: ViewName = 'ask';
  const show = (view: ViewName): void => {
    current = view;
    for (const name of VIEWS) {
      const tab = byId(`tab-${name}`);
      tab.setAttribute('aria-selected', String(name === view));
      tab.tabIndex = name === view ? 0 : -1;
      byId(`view-${name}`).hidden = name !== view;
    }
    refreshers[view]().catch(problem(view));
  };
  const viewOfHash = (): ViewName => VIEWS.find((name) => `#${name}` === location.hash) ?? 'ask';
  for (const name of VIEWS) {
    byId(`tab-${name}`).addEventListener('click', () => {
      location.hash = name;
    });
  }
  // Arrow keys move between the tabs, as a tab list's keyboard users expect.
  byId('tabs').addEventListener('keydown', (event) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    const next = VIEWS[(VIEWS.indexOf(current) + step + VIEWS.length) % VIEWS.length] ?? 'ask';
    location.hash = next;
    byId(`tab-${next}`).focus();
  });
  window.addEventListener('hashchange', () => {
    show(viewOfHash());
  });

  socket.onOpen(() => {
    socket.send({ type: 'subscribe', topics: ['results', 'fleet', 'jobs'] });
  });
  socket.on('results', () => {
    if (current === 'measurements') refreshMeasurements();
  });

  const tokenForm = byId('token-form', HTMLFormElement);
  window.addEventListener(UNAUTHORIZED_EVENT, () => {
    tokenForm.hidden = false;
    byId('token-input').focus();
  });
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    storeToken(byId('token-input', HTMLInputElement).value);
    tokenForm.hidden = true;
    pageStatus.textContent = '';
    socket.reconnect();
    fleet.refresh().catch(problem('fleet'));
    show(current);
  });

  // The fleet is loaded at once: the Ask form lists the hosts a question may name.
  fleet.refresh().catch(problem('fleet'));
  show(viewOfHash());
}

start();
