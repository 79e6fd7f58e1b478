// Import: a CSV or XLSX export from an HR system or the bureau's own spreadsheet, the per-row report.

import { all, download, post, request } from '../api.js';
import { act, badge, field, h, kpi, link, section, table } from '../dom.js';
import { dateText, num, t } from '../i18n.js';

const TYPES = {
  csv: 'text/csv',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

function report(result) {
  const bad = result.results.filter((r) => r.status === 'error' || r.status === 'needs_review');
  const onlyBad = h('input', { type: 'checkbox', id: 'only-errors', checked: bad.length > 0 });
  const rowsBox = h('div');
  const show = () => {
    const rows = onlyBad.checked ? bad : result.results;
    rowsBox.replaceChildren(table([
      { label: t('import.row'), cell: (r) => String(r.row), class: 'num' },
      { label: t('status'), cell: (r) => badge(t(`import.${r.status}`), { error: 'no', needs_review: 'wait' }[r.status] || 'ok') },
      { label: t('import.errors'), cell: (r) => (r.errors.length || (r.notes && r.notes.length)
        ? h('ul', { class: 'errors' }, r.errors.map((e) => h('li', null, h('strong', null, e.column), ` (${e.field}): `,
          e.reason)), (r.notes || []).map((n) => h('li', { class: 'muted' }, `${n.column}: ${n.note}`)))
        : '—') },
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
      kpi(t('import.error'), num(totals.error), null, 'import-errors'),
      totals.needs_review ? kpi(t('import.needs_review'), num(totals.needs_review), null, 'import-reviews') : null),
    result.dry_run ? h('p', { class: 'notice info', id: 'dry-run-done' }, t('import.dryRunDone')) : null,
    result.encoding || result.sheet ? h('p', { class: 'muted' }, [result.sheet ? `${t('import.sheet')} ${result.sheet}` : '',
      result.header_row ? ` · ${t('import.headerRow', { n: result.header_row })}` : '',
      result.encoding ? ` · ${result.encoding}` : ''].join('')) : null,
    h('label', { class: 'check' }, onlyBad, t('import.onlyErrors')), rowsBox);
}

// Rows an import held back (same name and birth date as a known worker, another ID number): the bureau says
// whether the row is that person (merge, keeping one of the two ID numbers) or someone else (confirm: created).
function reviewActions(r, redraw) {
  if (r.status !== 'pending') return badge(t(`importReview.${r.status}`), 'ok');
  const out = h('span', { class: 'out' });
  const action = (cls, label, path, json) => {
    const b = h('button', { type: 'button', class: `small ${cls}`, onClick: () => act(b, out, async () => {
      await post(`/registry/v1/workers/import/reviews/${encodeURIComponent(r.id)}/${path}`, json);
      await redraw();
    }) }, label);
    return b;
  };
  return h('div', { class: 'line-actions' },
    action('merge-existing', t('importReview.mergeExisting'), 'merge', { keep: 'existing' }),
    action('secondary merge-incoming', t('importReview.mergeIncoming'), 'merge', { keep: 'incoming' }),
    action('secondary confirm-new', t('importReview.confirm'), 'confirm'), out);
}

async function reviewSection() {
  const box = h('section', { class: 'card', id: 'import-reviews-section' });
  const person = (name, birth, idNumber) => h('div', null, h('strong', null, name), ` · ${dateText(birth)}`,
    h('div', { class: 'muted' }, idNumber));
  const redraw = async () => {
    const items = await all('/registry/v1/workers/import/reviews', { status: 'pending' }, 100);
    box.replaceChildren(h('h2', null, t('importReview.title')), h('p', { class: 'muted' }, t('importReview.help')),
      table([
        { label: t('import.row'), cell: (r) => String(r.row), class: 'num' },
        { label: t('importReview.incoming'), cell: (r) => person(r.name, r.birth_date, r.id_number) },
        { label: t('importReview.known'), cell: (r) => (r.worker ? h('div', null,
          link(['workers', r.worker.id], r.worker.name), ` · ${dateText(r.worker.birth_date)}`,
          h('div', { class: 'muted' }, r.worker.id_number)) : '—') },
        { label: t('reason'), cell: (r) => r.reason },
        { label: t('actions'), cell: (r) => reviewActions(r, redraw) },
      ], items, { id: 'import-reviews-table', empty: t('importReview.none') }));
  };
  await redraw();
  return box;
}

export async function render(view, ctx) {
  const file = h('input', { type: 'file', id: 'import-file', accept: '.csv,.xlsx,text/csv' });
  const dryRun = h('input', { type: 'checkbox', id: 'dry-run' });
  const button = h('button', { type: 'submit', id: 'import-submit' }, t('import.upload'));
  const out = h('div', { id: 'import-out' });
  const send = (chosen, params, extra = {}) => {
    const ext = chosen.name.toLowerCase().endsWith('.xlsx') ? 'xlsx' : 'csv';
    // A fresh Idempotency-Key per upload: a retried request returns the same report instead of importing twice.
    return request('POST', '/registry/v1/workers/import', {
      body: chosen, params, ...extra,
      headers: { 'Content-Type': TYPES[ext], 'Idempotency-Key': crypto.randomUUID(), ...(extra.headers || {}) },
    });
  };
  // The report as a workbook (the rows as sent plus 结果 and 原因), from a dry run of the same file: nothing is
  // written twice.
  const workbook = h('button', { type: 'button', class: 'secondary', id: 'import-workbook', hidden: true });
  workbook.append(t('import.workbook'));
  workbook.addEventListener('click', () => act(workbook, out, async () => {
    const chosen = file.files[0];
    const response = await send(chosen, { dry_run: 'true', report: 'xlsx' }, { raw: true, headers: { Accept: '*/*' } });
    const a = h('a', { href: URL.createObjectURL(await response.blob()), download: `import-report-${chosen.name}.xlsx` });
    document.body.append(a);
    a.click();
    a.remove();
  }));
  const form = h('form', { class: 'filters', id: 'import-form', onSubmit: (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    act(button, out, async () => {
      const result = await send(chosen, dryRun.checked ? { dry_run: 'true' } : {});
      out.replaceChildren(report(result));
      workbook.hidden = false;
    });
  } }, field(t('import.file'), file), h('label', { class: 'check' }, dryRun, t('import.dryRun')), button, workbook);
  const template = h('button', { type: 'button', class: 'link-button', id: 'import-template' }, t('import.template'));
  template.addEventListener('click', () => act(template, out, () =>
    download('/registry/v1/workers/import/template', { format: 'xlsx' }, 'workers-import-template.xlsx')));
  view.append(h('h1', null, t('page.import')), section(t('import.title'), h('p', { class: 'muted' }, t('import.help')),
    h('p', null, template), form), section(t('import.report'), out));
  if (ctx.claims.roles.includes('bureau_admin')) view.append(await reviewSection());
}
