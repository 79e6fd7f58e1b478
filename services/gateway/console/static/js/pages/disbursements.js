// Disbursements: the batches so far (GET /subsidy/v1/disbursements) and the month's batch (created once, the same
// batch after), its lines, marking lines paid or failed, the export for the bank, the open recoveries.
// #/disbursements/<id> opens a batch. A station manager sees the batches, their workers' lines and notice, and
// raises objections for them; the bureau decides.

import { all, download, get, post } from '../api.js';
import { currentMonth, namesOf, policyCode } from '../common.js';
import { act, badge, field, h, kpi, link, refreshPage, section, table } from '../dom.js';
import { showCycle } from './cycle.js';
import { receivablesSection } from './receivables.js';
import { levelName, num, t, timeText, yuan } from '../i18n.js';

const enc = encodeURIComponent;

function lineStatus(line) {
  return h('span', null, badge(t(`line.${line.status}`), line.status === 'paid' ? 'ok' : line.status === 'failed' ? 'no' : ''),
    line.failure_reason ? ` ${line.failure_reason}` : '');
}

function lineActions(batch, line, isAdmin, redraw) {
  if (!isAdmin || line.status !== 'pending') return '—';
  const out = h('span', { class: 'out' });
  const mark = (status, reason) => post(`/subsidy/v1/disbursements/${enc(batch.id)}/lines/${line.id}/mark`,
    reason ? { status, reason } : { status }).then((updated) => { Object.assign(line, updated); redraw(); });
  const paid = h('button', { type: 'button', class: 'small mark-paid',
    onClick: () => act(paid, out, () => mark('paid')) }, t('disb.markPaid'));
  const reason = h('input', { class: 'small fail-reason', placeholder: t('disb.failReason') });
  const failed = h('button', { type: 'button', class: 'small secondary mark-failed', onClick: () => {
    if (!reason.value.trim()) { reason.focus(); return; }
    act(failed, out, () => mark('failed', reason.value.trim()));
  } }, t('disb.markFailed'));
  return h('span', { class: 'line-actions' }, paid, reason, failed, out);
}

async function showBatch(box, batch, isAdmin, claims, canObject) {
  const summaryBox = h('div');
  const cycleBox = h('div', { id: 'cycle' });
  const linesBox = h('div');
  const transfersBox = h('div');
  const out = h('div');
  let status = null;
  const exportButton = (format) => {
    const b = h('button', { type: 'button', class: 'secondary', id: `export-${format}`, onClick: () => act(b, out, () =>
      download(`/subsidy/v1/disbursements/${enc(batch.id)}/export`, { format }, `disbursement-${batch.month}.${format}`)) },
    t(`disb.export.${format}`));
    return b;
  };
  const drawSummary = (b) => summaryBox.replaceChildren(h('div', { class: 'kpis', id: 'batch-summary' },
    kpi(t('month'), b.month), kpi(t('disb.lines'), num(b.line_count), null, 'batch-lines'),
    kpi(t('disb.total'), yuan(b.total_fen), null, 'batch-total'),
    b.net_to_pay_fen !== undefined ? kpi(t('disb.netToPay'), yuan(b.net_to_pay_fen),
      t('disb.transfers', { n: num(b.transfers), recovered: yuan(b.recovered_fen), setOff: yuan(b.set_off_fen) }),
      'batch-net') : null,
    kpi(t('disb.createdBy'), b.created_by.slice(0, 8), timeText(b.created_at))));
  // Lines are marked one by one only while the batch is a draft; a published batch is marked by the bank's file.
  const drawLines = async () => {
    const lines = await all(`/subsidy/v1/disbursements/${enc(batch.id)}/lines`);
    const names = await namesOf(lines.slice(0, 200).map((l) => l.worker_id));
    const markable = isAdmin && status === 'draft';
    const redraw = () => linesBox.replaceChildren(section(t('disb.lineList'), table([
      { label: t('name'), cell: (l) => link(['workers', l.worker_id], names[l.worker_id] || l.worker_id.slice(0, 8)) },
      { label: t('month'), cell: (l) => l.month || '—' },
      { label: t('kind'), cell: (l) => t(`lineKind.${l.kind}`) },
      { label: t('level'), cell: (l) => (l.level ? levelName(l.level) : '—') },
      { label: t('amount'), cell: (l) => yuan(l.amount_fen), class: 'num' },
      { label: t('status'), cell: lineStatus },
      { label: t('actions'), cell: (l) => lineActions(batch, l, markable, redraw) },
    ], lines, { id: 'lines-table', empty: t('disb.noLines') })));
    redraw();
    await drawTransfers();
  };
  // One transfer per worker: new months, top-ups, awards, recoveries set off against what is owed, the net.
  const drawTransfers = async () => {
    const rows = await all(`/subsidy/v1/disbursements/${enc(batch.id)}/workers`);
    const names = await namesOf(rows.slice(0, 200).map((r) => r.worker_id));
    transfersBox.replaceChildren(section(t('disb.transferList'), table([
      { label: t('name'), cell: (r) => link(['workers', r.worker_id], names[r.worker_id] || r.worker_id.slice(0, 8)) },
      { label: t('disb.newMonths'), cell: (r) => `${num(r.new_months)} · ${yuan(r.new_months_fen)}`, class: 'num' },
      { label: t('statement.topUps'), cell: (r) => yuan(r.top_ups_fen), class: 'num' },
      { label: t('award'), cell: (r) => yuan(r.awards_fen), class: 'num' },
      { label: t('statement.recovered'), cell: (r) => yuan(r.recovered_fen), class: 'num' },
      { label: t('disb.setOff'), cell: (r) => yuan(r.set_off_fen), class: 'num' },
      { label: t('disb.netToPay'), cell: (r) => yuan(r.net_to_pay_fen), class: 'num' },
      { label: t('disb.receivableAfter'), cell: (r) => yuan(r.receivable_after_fen), class: 'num' },
      { label: t('status'), cell: lineStatus },
    ], rows.map((r) => ({ ...r, id: r.worker_id })), { id: 'transfers-table', empty: t('disb.noLines') })));
  };
  drawSummary(batch);
  box.replaceChildren(section(t('disb.batch', { month: batch.month }), summaryBox,
    h('div', { class: 'actions' }, exportButton('xlsx'), exportButton('csv')), out), cycleBox, transfersBox, linesBox);
  await showCycle(cycleBox, batch.id, { isAdmin, claims, canObject }, async (cycle) => {
    if (cycle.status === status) return;
    const first = status === null;
    status = cycle.status;
    if (!first) drawSummary(await get(`/subsidy/v1/disbursements/${enc(batch.id)}`));
    await drawLines();
  });
}

// Every batch, newest first (one a month and policy: a short list), each a link to its page.
async function batchList(current) {
  const batches = (await all('/subsidy/v1/disbursements')).reverse();
  return section(t('disb.list'), table([
    { label: t('month'), cell: (b) => (b.id === current ? h('strong', null, b.month) : link(['disbursements', b.id], b.month)) },
    { label: t('policy'), cell: (b) => b.policy },
    { label: t('status'), cell: (b) => badge(t(`cycle.${b.status}`), b.status === 'settled' ? 'ok' : b.status === 'draft' ? '' : 'wait') },
    { label: t('disb.lines'), cell: (b) => num(b.line_count), class: 'num' },
    { label: t('disb.total'), cell: (b) => yuan(b.total_fen), class: 'num' },
    { label: t('disb.createdAt'), cell: (b) => timeText(b.created_at) },
  ], batches, { id: 'batches-table', empty: t('disb.noBatches') }), h('p', { class: 'muted' }, t('disb.listHelp')));
}

export async function render(view, ctx) {
  const roles = ctx.claims.roles;
  const isAdmin = roles.includes('bureau_admin');
  const canObject = isAdmin || roles.includes('station_manager');
  const policy = await policyCode();
  const month = h('input', { type: 'month', id: 'batch-month', value: currentMonth(), required: true });
  const button = h('button', { type: 'submit', id: 'batch-create' }, t('disb.create'));
  const out = h('div');
  const box = h('div', { id: 'batch' });
  view.append(h('h1', null, t('page.disbursements')));
  if (isAdmin) {
    view.append(section(t('disb.new'), h('p', { class: 'muted' }, t('disb.help')),
      h('form', { class: 'filters', id: 'batch-form', onSubmit: (event) => {
        event.preventDefault();
        act(button, out, async () => {
          const batch = await post('/subsidy/v1/disbursements', { policy, month: month.value });
          const target = `#/disbursements/${enc(batch.id)}`; // drawn again: the list shows the new batch too
          if (location.hash === target) refreshPage();
          else location.hash = target;
        });
      } }, field(t('month'), month), button), out));
  }
  view.append(await batchList(ctx.id), box);
  if (ctx.id) await showBatch(box, await get(`/subsidy/v1/disbursements/${enc(ctx.id)}`), isAdmin, ctx.claims, canObject);

  view.append(await receivablesSection({ isAdmin, claims: ctx.claims }));
  const recoveries = await get('/subsidy/v1/recoveries', { limit: 100 }).then((p) => p.items, () => null);
  if (recoveries) {
    const names = await namesOf(recoveries.map((r) => r.worker_id));
    view.append(section(t('disb.recoveries'), table([
      { label: t('name'), cell: (r) => link(['workers', r.worker_id], names[r.worker_id] || r.worker_id.slice(0, 8)) },
      { label: t('month'), cell: (r) => r.month || '—' },
      { label: t('amount'), cell: (r) => yuan(r.amount_fen), class: 'num' },
      { label: t('disb.dueFen'), cell: (r) => (r.due_fen === null ? '—' : yuan(r.due_fen)), class: 'num' },
      { label: t('reason'), cell: (r) => r.reason || r.rule || '—' },
      { label: t('disb.recordedAt'), cell: (r) => timeText(r.created_at) },
    ], recoveries, { id: 'recoveries-table', empty: t('disb.noRecoveries') })));
  }
}
