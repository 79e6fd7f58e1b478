// Import: a CSV or XLSX export from an HR system or the bureau's own spreadsheet, the per-row report.

import { request } from '../api.js';
import { act, badge, field, h, kpi, link, section, table } from '../dom.js';
import { num, t } from '../i18n.js';

const TYPES = {
  csv: 'text/csv',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

function report(result) {
  const bad = result.results.filter((r) => r.status === 'error');
  const onlyBad = h('input', { type: 'checkbox', id: 'only-errors', checked: bad.length > 0 });
  const rowsBox = h('div');
  const show = () => {
    const rows = onlyBad.checked ? bad : result.results;
    rowsBox.replaceChildren(table([
      { label: t('import.row'), cell: (r) => String(r.row), class: 'num' },
      { label: t('status'), cell: (r) => badge(t(`import.${r.status}`), r.status === 'error' ? 'no' : 'ok') },
      { label: t('import.errors'), cell: (r) => (r.errors.length ? h('ul', { class: 'errors' }, r.errors.map((e) =>
        h('li', null, h('strong', null, e.column), ` (${e.field}): `, e.reason))) : '—') },
      { label: t('import.worker'), cell: (r) => (r.worker_id ? link(['workers', r.worker_id], t('open')) : '—') },
    ], rows.map((r) => ({ ...r, id: `row-${r.row}` })), { id: 'import-report' }));
  };
  onlyBad.addEventListener('change', show);
  show();
  const totals = result.totals;
  return h('div', { id: 'import-result' },
    h('div', { class: 'kpis' },
      kpi(t('import.rows'), num(totals.rows)), kpi(t('import.created'), num(totals.created)),
      kpi(t('import.updated'), num(totals.updated)), kpi(t('import.unchanged'), num(totals.unchanged)),
      kpi(t('import.error'), num(totals.error), null, 'import-errors')),
    h('label', { class: 'check' }, onlyBad, t('import.onlyErrors')), rowsBox);
}

export async function render(view) {
  const file = h('input', { type: 'file', id: 'import-file', accept: '.csv,.xlsx,text/csv' });
  const button = h('button', { type: 'submit', id: 'import-submit' }, t('import.upload'));
  const out = h('div', { id: 'import-out' });
  const form = h('form', { class: 'filters', id: 'import-form', onSubmit: (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    act(button, out, async () => {
      const ext = chosen.name.toLowerCase().endsWith('.xlsx') ? 'xlsx' : 'csv';
      // A fresh Idempotency-Key per upload: a retried request returns the same report instead of importing twice.
      const result = await request('POST', '/registry/v1/workers/import', {
        body: chosen,
        headers: { 'Content-Type': TYPES[ext], 'Idempotency-Key': crypto.randomUUID() },
      });
      out.replaceChildren(report(result));
    });
  } }, field(t('import.file'), file), button);
  view.append(h('h1', null, t('page.import')), section(t('import.title'), h('p', { class: 'muted' }, t('import.help')),
    form), section(t('import.report'), out));
}
