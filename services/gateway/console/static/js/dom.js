// Building the page from data without markup: every value from the API becomes a text node or a property,
// never HTML (the Trusted Types policy of the page makes any string given to an HTML sink throw anyway).

import { t } from './i18n.js';

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'multiple', 'hidden', 'files']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key.startsWith('on')) throw new Error(`event attribute ${key} is not allowed`);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  add(el, children);
  return el;
}

export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// A link inside the console: always '#/...' built from our own route names and encoded ids.
export function link(parts, ...children) {
  return h('a', { href: '#/' + parts.map((p) => encodeURIComponent(p)).join('/') }, ...children);
}

// columns: [{label, cell: (row) => Node|string, class}]
export function table(columns, rows, { empty = t('empty'), id } = {}) {
  if (!rows.length) return h('p', { class: 'muted empty', id }, empty);
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class }, c.label)))),
    h('tbody', null, rows.map((row) => h('tr', { dataset: row.id ? { id: String(row.id) } : undefined },
      columns.map((c) => h('td', { class: c.class }, c.cell(row))))))));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

// A section that takes a whole row of a grid.
export function wideSection(title, ...children) {
  const el = section(title, ...children);
  el.classList.add('wide');
  return el;
}

export function kpi(label, value, note, id) {
  return h('div', { class: 'kpi', id }, h('div', { class: 'kpi-label' }, label),
    h('div', { class: 'kpi-value' }, value), note ? h('div', { class: 'kpi-note' }, note) : null);
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}` }, text);
}

export function notice(text, kind = 'error') {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function field(label, input) {
  return h('label', { class: 'field' }, h('span', null, label), input);
}

export function select(options, value, props = {}) {
  return h('select', props, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

// Runs an action from a button: disables it meanwhile and shows the API's problem detail if it fails.
export async function act(button, out, fn) {
  button.disabled = true;
  document.body.dataset.state = 'busy';
  try {
    await fn();
    document.body.dataset.state = 'ready';
  } catch (error) {
    out.replaceChildren(notice(errorText(error)));
    document.body.dataset.state = 'ready';
  } finally {
    button.disabled = false;
  }
}

export function errorText(error) {
  const p = error.problem || {};
  const fieldName = p.field ? ` (${p.field})` : '';
  return `${error.message}${fieldName}`;
}

// Renders the current page again (after an action changed what it shows).
export function refreshPage() {
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
