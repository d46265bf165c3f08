import type { Advice, AdviceQuestion } from '../../contracts/advice.ts';
import { ApiError, postJson } from './api.ts';
import { answerView } from './answer-view.ts';
import { el } from './dom.ts';
import { formatTime } from './format.ts';
import type { AdvisorSocket } from './socket.ts';

/** The watch this page keeps on the advisor: asking again replaces it. */
const WATCH_ID = 'dashboard-ask';

const SENSITIVITIES = ['cpu', 'memory', 'io', 'network', 'syscall'] as const;

/** The fields of the question, by the dotted path the API names them by. */
const FIELDS = [
  'workload',
  'os.family',
  'os.kernel',
  'os.kernelModules',
  'os.fullOs',
  'lifetimeSeconds',
  'instances',
  'trust',
  'neighbours',
  'startupBudgetMs',
  'memoryMiB',
  'sensitivity',
  'hosts',
] as const;

type FieldPath = (typeof FIELDS)[number];

/** `os.family` → `ask-os-family`: the id of the field's control. */
const controlId = (path: FieldPath): string => `ask-${path.replace(/\./g, '-')}`;
const errorId = (path: FieldPath): string => `${controlId(path)}-error`;

/** The field of the form an error names: `question.hosts[2]` → `hosts`; undefined for the whole. */
function fieldOfError(field: string | undefined): FieldPath | undefined {
  if (field === undefined) return undefined;
  const path = field.replace(/^question\./, '').replace(/\[\d+\].*$/, '');
  return FIELDS.find((known) => known === path);
}

/** A number when the text is one, the text itself when not (so the advisor names the field). */
function numberOrText(input: HTMLInputElement): number | string | undefined {
  const text = input.value.trim();
  if (text === '') return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

function described(
  path: FieldPath,
  label: string,
  control: HTMLElement,
  hint?: string,
): HTMLElement {
  const hintId = `${controlId(path)}-hint`;
  control.setAttribute(
    'aria-describedby',
    `${errorId(path)}${hint === undefined ? '' : ` ${hintId}`}`,
  );
  return el(
    'div',
    { class: 'field', 'data-field': path },
    el('label', { for: controlId(path), text: label }),
    control,
    hint !== undefined &&
      el('small', {
        id: hintId,
        class: 'hint',
        'data-testid': `${controlId(path)}-hint`,
        text: hint,
      }),
    el('p', {
      id: errorId(path),
      class: 'field-error',
      'data-testid': errorId(path),
      'aria-live': 'polite',
    }),
  );
}

function input(
  path: FieldPath,
  attributes: Record<string, string | number> = {},
): HTMLInputElement {
  return el('input', {
    id: controlId(path),
    name: path,
    'data-testid': controlId(path),
    ...attributes,
  });
}

function select(path: FieldPath, options: readonly string[]): HTMLSelectElement {
  return el(
    'select',
    { id: controlId(path), name: path, 'data-testid': controlId(path) },
    ...options.map((option) => el('option', { value: option, text: option })),
  );
}

function checkbox(path: FieldPath, label: string): HTMLElement {
  const box = el('input', {
    type: 'checkbox',
    id: controlId(path),
    name: path,
    'data-testid': controlId(path),
  });
  box.setAttribute('aria-describedby', errorId(path));
  return el(
    'div',
    { class: 'field check', 'data-field': path },
    box,
    el('label', { for: controlId(path), text: label }),
    el('p', {
      id: errorId(path),
      class: 'field-error',
      'data-testid': errorId(path),
      'aria-live': 'polite',
    }),
  );
}

export interface AskView {
  /** The hosts the question may name, shown beside the hosts field. */
  setKnownHosts(hostIds: readonly string[]): void;
}

/**
 * The Ask view: a form for every field of the question, and the answer. The question is
 * watched over the WebSocket, so when new measurements change the answer it is redrawn in
 * place with a notice saying so; without the WebSocket it is asked over HTTP once. A field
 * the advisor refuses gets the advisor's sentence beside it.
 */
export function createAskView(
  panel: HTMLElement,
  socket: AdvisorSocket,
  onAnswer: () => void,
): AskView {
  const controls = {
    workload: input('workload', { type: 'text', value: 'ci-job', autocomplete: 'off' }),
    family: select('os.family', ['linux', 'windows', 'freebsd', 'other']),
    kernel: input('os.kernel', { type: 'text', placeholder: '>=6.1', autocomplete: 'off' }),
    lifetime: input('lifetimeSeconds', { type: 'text', inputmode: 'decimal', value: '180' }),
    instances: input('instances', { type: 'text', inputmode: 'numeric', value: '400' }),
    trust: select('trust', ['trusted', 'untrusted']),
    neighbours: select('neighbours', ['own', 'shared']),
    budget: input('startupBudgetMs', { type: 'text', inputmode: 'decimal' }),
    memory: input('memoryMiB', { type: 'text', inputmode: 'decimal' }),
    hosts: input('hosts', { type: 'text', autocomplete: 'off', placeholder: 'every host' }),
  };
  const kernelModules = checkbox('os.kernelModules', 'Loads its own kernel modules');
  const fullOs = checkbox('os.fullOs', 'Needs a dedicated OS of its own');
  const sensitivity = el(
    'fieldset',
    {
      class: 'field',
      'data-field': 'sensitivity',
      id: controlId('sensitivity'),
      'aria-describedby': errorId('sensitivity'),
    },
    el('legend', { text: 'Sensitive to (none: all alike)' }),
    ...SENSITIVITIES.map((name) =>
      el(
        'span',
        { class: 'check' },
        el('input', {
          type: 'checkbox',
          id: `ask-sensitivity-${name}`,
          name: 'sensitivity',
          value: name,
          'data-testid': `ask-sensitivity-${name}`,
          checked: name === 'cpu',
        }),
        el('label', { for: `ask-sensitivity-${name}`, text: name }),
      ),
    ),
    el('p', {
      id: errorId('sensitivity'),
      class: 'field-error',
      'data-testid': errorId('sensitivity'),
      'aria-live': 'polite',
    }),
  );
  const hostsField = described(
    'hosts',
    'Hosts (comma-separated ids)',
    controls.hosts,
    'Empty: every host.',
  );
  const formError = el('p', {
    id: 'ask-error',
    class: 'field-error',
    'data-testid': 'ask-error',
    role: 'alert',
  });
  const submit = el('button', {
    type: 'submit',
    id: 'ask-submit',
    'data-testid': 'ask-submit',
    text: 'Ask',
  });
  const form = el(
    'form',
    { id: 'ask-form', 'data-testid': 'ask-form', novalidate: true, 'aria-label': 'Question' },
    el(
      'div',
      { class: 'fields' },
      described('workload', 'Workload', controls.workload),
      described('os.family', 'OS family', controls.family),
      described('os.kernel', 'Kernel range (semver)', controls.kernel, 'Optional, e.g. >=6.1'),
      described('lifetimeSeconds', 'Lifetime of one instance (seconds)', controls.lifetime),
      described('instances', 'Instances at once', controls.instances),
      described('trust', 'Trust', controls.trust),
      described(
        'neighbours',
        'Neighbours on its hosts',
        controls.neighbours,
        "shared: other tenants' work beside it, so noisy neighbours count",
      ),
      described('startupBudgetMs', 'Start-up budget (ms)', controls.budget, 'Optional'),
      described('memoryMiB', 'Own memory per instance (MiB)', controls.memory, 'Optional'),
      hostsField,
    ),
    el('div', { class: 'fields' }, kernelModules, fullOs, sensitivity),
    formError,
    submit,
  );
  const status = el('p', {
    class: 'status',
    'data-testid': 'answer-status',
    role: 'status',
    'aria-live': 'polite',
  });
  const updated = el('p', {
    class: 'updated',
    id: 'answer-updated',
    'data-testid': 'answer-updated',
    role: 'status',
    hidden: true,
  });
  const answerHolder = el('div', {
    id: 'answer',
    'data-testid': 'answer-holder',
    'aria-live': 'polite',
  });
  panel.append(
    el('h2', { text: 'Ask where a workload should run' }),
    form,
    status,
    updated,
    answerHolder,
  );

  let watched: AdviceQuestion | undefined;

  const clearErrors = (): void => {
    for (const path of FIELDS) {
      const error = document.getElementById(errorId(path));
      if (error !== null) error.textContent = '';
      document.getElementById(controlId(path))?.removeAttribute('aria-invalid');
    }
    formError.textContent = '';
  };

  const showError = (field: string | undefined, message: string): void => {
    const path = fieldOfError(field);
    status.textContent = '';
    if (path === undefined) {
      formError.textContent = message;
      return;
    }
    const error = document.getElementById(errorId(path));
    if (error !== null) error.textContent = message;
    const control = document.getElementById(controlId(path));
    control?.setAttribute('aria-invalid', 'true');
    control?.focus();
  };

  const show = (advice: Advice, why: 'asked' | 'evidence'): void => {
    status.textContent = '';
    answerHolder.replaceChildren(answerView(advice));
    updated.hidden = why !== 'evidence';
    updated.textContent =
      why === 'evidence'
        ? `Updated: new measurements changed this answer (${formatTime(advice.answeredAt)}).`
        : '';
    onAnswer();
  };

  const question = (): Record<string, unknown> => {
    const checkedSensitivities = [
      ...sensitivity.querySelectorAll<HTMLInputElement>('input:checked'),
    ].map((box) => box.value);
    const hosts = controls.hosts.value.split(/[\s,]+/).filter((host) => host !== '');
    const kernel = controls.kernel.value.trim();
    const optional = (name: string, value: unknown): Record<string, unknown> =>
      value === undefined ? {} : { [name]: value };
    const modulesBox = kernelModules.querySelector('input');
    const fullOsBox = fullOs.querySelector('input');
    return {
      workload: controls.workload.value,
      os: {
        family: controls.family.value,
        ...optional('kernel', kernel === '' ? undefined : kernel),
        ...optional('kernelModules', modulesBox?.checked === true ? true : undefined),
        ...optional('fullOs', fullOsBox?.checked === true ? true : undefined),
      },
      ...optional('lifetimeSeconds', numberOrText(controls.lifetime)),
      ...optional('instances', numberOrText(controls.instances)),
      trust: controls.trust.value,
      neighbours: controls.neighbours.value,
      ...optional('startupBudgetMs', numberOrText(controls.budget)),
      ...optional('memoryMiB', numberOrText(controls.memory)),
      ...optional(
        'sensitivity',
        checkedSensitivities.length === 0 ? undefined : checkedSensitivities,
      ),
      ...optional('hosts', hosts.length === 0 ? undefined : hosts),
    };
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    const asked = question() as AdviceQuestion;
    status.textContent = 'Asking…';
    if (socket.send({ type: 'watch', id: WATCH_ID, question: asked })) {
      watched = asked;
      return;
    }
    watched = undefined;
    postJson<Advice>('v1/advice', asked).then(
      (advice) => {
        show(advice, 'asked');
        status.textContent = 'Not connected: this answer will not update by itself.';
      },
      (error: unknown) => {
        if (error instanceof ApiError) showError(error.field, error.message);
        else showError(undefined, String(error));
      },
    );
  });

  socket.on('answer', (frame) => {
    if (frame.id === WATCH_ID) show(frame.advice, frame.why);
  });
  socket.on('error', (frame) => {
    if (frame.id !== WATCH_ID) return;
    watched = undefined;
    showError(frame.field, frame.message);
  });
  socket.onOpen(() => {
    if (watched !== undefined) socket.send({ type: 'watch', id: WATCH_ID, question: watched });
  });

  return {
    setKnownHosts: (hostIds) => {
      const hint = document.getElementById(`${controlId('hosts')}-hint`);
      if (hint !== null) {
        hint.textContent =
          hostIds.length === 0
            ? 'Empty: every host. No host has reported yet.'
            : `Empty: every host. Known: ${hostIds.join(', ')}.`;
      }
    },
  };
}
