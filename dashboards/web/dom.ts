/** Attributes of an element made by `el`; `text` sets its text, undefined values are left out. */
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

export type Child = Node | string | undefined | false;

/** An element with attributes and children; strings become text, never markup. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: readonly Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'text') element.textContent = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** The element with this id, of this kind; the page is broken without it. */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T;
export function byId(id: string): HTMLElement;
export function byId(id: string, kind: new () => HTMLElement = HTMLElement): HTMLElement {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`the page has no #${id} of the right kind`);
  return element;
}

/** A select with its label; its options are set with `setOptions`. */
export function labelledSelect(
  id: string,
  label: string,
): { field: HTMLElement; select: HTMLSelectElement } {
  const select = el('select', { id, name: id, 'data-testid': id });
  return {
    field: el('div', { class: 'field' }, el('label', { for: id, text: label }), select),
    select,
  };
}

/**
 * Gives a select these options, keeping the element (and so the focus on it); `selected`
 * is chosen when it is one of them, else the first.
 */
export function setOptions(
  select: HTMLSelectElement,
  options: readonly (readonly [value: string, text: string])[],
  selected: string,
): void {
  select.replaceChildren(
    ...options.map(([value, text]) => el('option', { value, text, selected: value === selected })),
  );
}

/**
 * A table with its caption and a header row naming the columns over `body` (or over several
 * bodies, one per group of rows): every table of the page has this shape, so screen readers
 * get the same caption and column headers on each.
 */
export function dataTable(
  attributes: Attributes,
  caption: string | readonly Child[],
  columns: readonly string[],
  body: HTMLTableSectionElement | readonly HTMLTableSectionElement[],
): HTMLTableElement {
  return el(
    'table',
    attributes,
    el('caption', {}, ...(typeof caption === 'string' ? [caption] : caption)),
    el('thead', {}, el('tr', {}, ...columns.map((text) => el('th', { scope: 'col', text })))),
    ...(body instanceof HTMLTableSectionElement ? [body] : body),
  );
}

/** A box that scrolls sideways when what it holds (a wide table) is wider than the window. */
export const scrolling = (child: Node): HTMLDivElement =>
  el('div', { class: 'table-scroll' }, child);
