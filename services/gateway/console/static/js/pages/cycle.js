// A batch's payment cycle (draft -> on_notice -> approved -> released -> settled): the step buttons as far as the
// caller's role allows (the services decide; the buttons only follow), the notice list with objections, the
// objections a bureau_admin decides, the bank files by template and the bank's result file with its report.

import { all, download, get, post, request } from '../api.js';
import { namesOf } from '../common.js';
import { act, badge, field, h, kpi, notice, section, table } from '../dom.js';
import { dateText, levelName, num, t, timeText, yuan } from '../i18n.js';

const enc = encodeURIComponent;
const STEPS = ['draft', 'on_notice', 'approved', 'released', 'settled'];

function steps(status) {
  const at = STEPS.indexOf(status);
  return h('ol', { class: 'steps', id: 'cycle-steps', dataset: { status } }, STEPS.map((s, i) =>
    h('li', { class: i < at ? 'done' : i === at ? 'current' : '' }, t(`cycle.${s}`))));
}

function button(id, label, onClick, { secondary = false, disabled = false } = {}) {
  const b = h('button', { type: 'button', id, class: secondary ? 'secondary' : '', disabled,
    onClick: () => onClick(b) });
  b.append(label);
  return b;
}

// The step a caller can take now, with the rule that governs it written beside the button.
function stepActions(cycle, ctx, out, done) {
  const url = `/subsidy/v1/disbursements/${enc(cycle.disbursement_id)}`;
  const step = (id, label, path, after) => button(id, label, (b) => act(b, out, async () => {
    const answer = await post(`${url}/${path}`);
    if (after) after(answer);
    await done();
  }));
  if (!ctx.isAdmin) return [];
  if (cycle.status === 'draft') {
    return [step('cycle-publish', t('cycle.publish'), 'publish'), h('span', { class: 'muted' }, t('cycle.publishHelp'))];
  }
  if (cycle.status === 'on_notice') {
    const own = cycle.created_by === ctx.claims.sub;
    const b = step('cycle-approve', t('cycle.approve'), 'approve');
    b.disabled = own;
    return [b, h('span', { class: own ? 'rule own' : 'muted', id: 'maker-checker' },
      own ? t('cycle.ownBatch') : t('cycle.makerChecker'),
      cycle.approvable_on ? ` ${t('cycle.approvableOn', { date: dateText(cycle.approvable_on) })}` : '')];
  }
  if (cycle.status === 'approved') {
    return [step('cycle-release', t('cycle.release'), 'release', (released) => { ctx.released = released; }),
      h('span', { class: 'muted' }, t('cycle.releaseHelp'))];
  }
  return [];
}

function cycleFacts(cycle) {
  const who = (by, at) => (by ? `${by.slice(0, 8)} · ${at ? (at.length > 10 ? timeText(at) : at) : ''}` : '—');
  return h('div', { class: 'kpis', id: 'cycle-facts' },
    kpi(t('cycle.published'), who(cycle.published_by, cycle.published_on),
      cycle.notice_ends_on ? t('cycle.noticeEnds', { date: dateText(cycle.notice_ends_on) }) : null),
    kpi(t('cycle.approved'), who(cycle.approved_by, cycle.approved_at)),
    kpi(t('cycle.released'), who(cycle.released_by, cycle.released_at),
      cycle.bank_count !== null && cycle.bank_count !== undefined
        ? t('cycle.control', { n: num(cycle.bank_count), total: yuan(cycle.bank_total_fen) }) : null, 'cycle-control'),
    kpi(t('cycle.openObjections'), num(cycle.open_objections), null, 'cycle-open-objections'));
}

function notReleased(released, names) {
  if (!released || !released.not_released.length) return null;
  return h('div', { id: 'not-released' }, h('h3', null, t('cycle.notReleased')), table([
    { label: t('name'), cell: (x) => names[x.worker_id] || x.worker_id.slice(0, 8) },
    { label: t('amount'), cell: (x) => yuan(x.amount_fen), class: 'num' },
    { label: t('reason'), cell: (x) => x.reason },
  ], released.not_released));
}

function objectionCell(item, cycle, ctx, redraw) {
  const canObject = ctx.canObject && item.line_id !== null && ['on_notice', 'approved'].includes(cycle.status);
  if (!canObject) return '—';
  const out = h('span', { class: 'out' });
  const reason = h('input', { class: 'small objection-reason', placeholder: t('cycle.objectionReason') });
  const b = button(null, t('cycle.object'), (self) => {
    if (!reason.value.trim()) { reason.focus(); return; }
    act(self, out, async () => {
      await post(`/subsidy/v1/disbursements/${enc(cycle.disbursement_id)}/lines/${item.line_id}/objection`,
        { reason: reason.value.trim() });
      await redraw();
    });
  }, { secondary: true });
  b.classList.add('small', 'object');
  return h('span', { class: 'line-actions' }, reason, b, out);
}

async function noticeSection(cycle, ctx, redraw) {
  const url = `/subsidy/v1/disbursements/${enc(cycle.disbursement_id)}/notice`;
  const data = await get(url);
  const out = h('div');
  const save = (format) => {
    const b = button(`notice-${format}`, t(`cycle.notice.${format}`), (self) => act(self, out, () =>
      download(url, { format }, `notice-${data.policy}-${data.month}.${format}`)), { secondary: true });
    return b;
  };
  return section(t('cycle.notice', { month: data.month }),
    h('p', { id: 'notice-summary' }, t('cycle.noticeSummary', { n: num(data.count), total: yuan(data.total_fen),
      from: dateText(data.published_on), to: data.notice_ends_on ? dateText(data.notice_ends_on) : '—' })),
    h('div', { class: 'actions' }, save('csv'), save('html')), out,
    table([
      { label: t('name'), cell: (i) => i.name_masked },
      { label: t('idNumber'), cell: (i) => i.id_number_masked },
      { label: t('station'), cell: (i) => i.station },
      { label: t('level'), cell: (i) => (i.level ? levelName(i.level) : '—') },
      { label: t('cycle.months'), cell: (i) => i.months.join(', ') },
      { label: t('amount'), cell: (i) => yuan(i.amount_fen), class: 'num' },
      { label: t('status'), cell: (i) => t(`line.${i.status}`) },
      { label: t('cycle.objection'), cell: (i) => objectionCell(i, cycle, ctx, redraw) },
    ], data.items.map((i) => ({ ...i, id: i.line_id === null ? undefined : `line-${i.line_id}` })),
    { id: 'notice-table' }));
}

function decideCell(o, cycle, ctx, redraw) {
  if (o.status !== 'open') {
    return h('span', null, badge(t(`objection.${o.status}`), o.status === 'upheld' ? 'no' : 'ok'),
      o.decision_reason ? ` ${o.decision_reason}` : '');
  }
  if (!ctx.isAdmin) return badge(t('objection.open'), 'wait');
  const out = h('span', { class: 'out' });
  const reason = h('input', { class: 'small decision-reason', placeholder: t('cycle.decisionReason') });
  const decide = (verb) => {
    const b = button(null, t(`cycle.${verb}`), (self) => act(self, out, async () => {
      await post(`/subsidy/v1/disbursements/${enc(cycle.disbursement_id)}/objections/${enc(o.id)}/${verb}`,
        reason.value.trim() ? { reason: reason.value.trim() } : undefined);
      await redraw();
    }), { secondary: verb === 'dismiss' });
    b.classList.add('small', verb);
    return b;
  };
  return h('span', { class: 'line-actions' }, reason, decide('uphold'), decide('dismiss'), out);
}

async function objectionsSection(cycle, ctx, redraw) {
  const items = await all(`/subsidy/v1/disbursements/${enc(cycle.disbursement_id)}/objections`);
  const names = await namesOf(items.map((o) => o.worker_id));
  return section(t('cycle.objections'), h('p', { class: 'muted' }, t('cycle.objectionsHelp')), table([
    { label: t('name'), cell: (o) => names[o.worker_id] || o.worker_id.slice(0, 8) },
    { label: t('reason'), cell: (o) => o.reason },
    { label: t('cycle.raisedAt'), cell: (o) => timeText(o.created_at) },
    { label: t('cycle.decision'), cell: (o) => decideCell(o, cycle, ctx, redraw) },
  ], items, { id: 'objections-table', empty: t('cycle.noObjections') }));
}

function reportView(report) {
  return h('div', { id: 'bank-report' },
    report.replayed ? notice(t('cycle.replayed'), 'info') : null,
    h('div', { class: 'kpis' },
      kpi(t('cycle.rows'), num(report.rows), t('cycle.control', { n: num(report.control_count),
        total: yuan(report.control_total_fen) })),
      kpi(t('cycle.paid'), num(report.paid), null, 'report-paid'),
      kpi(t('cycle.failed'), num(report.failed), null, 'report-failed'),
      kpi(t('cycle.unchanged'), num(report.unchanged), null, 'report-unchanged'),
      kpi(t('cycle.unmatched'), num(report.unmatched.length), null, 'report-unmatched')),
    report.unmatched.length ? table([
      { label: t('cycle.fileRow'), cell: (u) => String(u.row) },
      { label: t('cycle.seq'), cell: (u) => (u.seq === null ? '—' : String(u.seq)) },
      { label: t('reason'), cell: (u) => u.reason },
    ], report.unmatched, { id: 'unmatched-table' }) : null);
}

async function bankSection(cycle, ctx, redraw) {
  const url = `/subsidy/v1/disbursements/${enc(cycle.disbursement_id)}`;
  const payments = await all(`${url}/bank-payments`);
  const names = await namesOf(payments.slice(0, 200).map((p) => p.worker_id));
  const out = h('div');
  const parts = [];
  if (ctx.isAdmin) {
    const files = Object.keys(cycle.bank_files).map((template) => {
      const b = button(`bank-file-${template}`, t('cycle.bankFile', { template }), (self) => act(self, out, () =>
        download(`${url}/bank-file`, { template })),
      { secondary: true });
      b.title = `sha256 ${cycle.bank_files[template]}`;
      return b;
    });
    const file = h('input', { type: 'file', id: 'bank-results-file', accept: '.csv,text/csv' });
    const upload = button('bank-results-upload', t('cycle.uploadResults'), (self) => {
      if (!file.files.length) { file.focus(); return; }
      act(self, out, async () => {
        const report = await request('POST', `${url}/bank-results`, { body: file.files[0],
          headers: { 'Content-Type': 'text/csv' } });
        ctx.report = report;
        await redraw();
      });
    });
    parts.push(h('div', { class: 'actions', id: 'bank-files' }, files),
      cycle.status === 'released' || ctx.report
        ? h('div', { class: 'filters' }, field(t('cycle.resultsFile'), file), upload) : null,
      h('p', { class: 'muted' }, t('cycle.resultsHelp')));
  }
  return section(t('cycle.bank'), ...parts, out, ctx.report ? reportView(ctx.report) : null, table([
    { label: t('cycle.seq'), cell: (p) => String(p.seq), class: 'num' },
    { label: t('name'), cell: (p) => names[p.worker_id] || p.worker_id.slice(0, 8) },
    { label: t('cycle.account'), cell: (p) => p.account_masked },
    { label: t('amount'), cell: (p) => yuan(p.amount_fen), class: 'num' },
    { label: t('status'), cell: (p) => h('span', null, badge(t(`bank.${p.status}`),
      p.status === 'paid' ? 'ok' : p.status === 'failed' ? 'no' : 'wait'), p.failure_reason ? ` ${p.failure_reason}` : '') },
  ], payments.map((p) => ({ ...p, id: `seq-${p.seq}` })), { id: 'bank-payments-table', empty: t('cycle.noPayments') }));
}

// Draws the cycle into `box` and again after each step; returns the cycle (the batch's lines depend on it).
export async function showCycle(box, batchId, ctx, onChange) {
  const redraw = async () => {
    const cycle = await get(`/subsidy/v1/disbursements/${enc(batchId)}/cycle`);
    const out = h('div');
    const ids = ctx.released ? ctx.released.not_released.map((x) => x.worker_id) : [];
    const names = await namesOf(ids);
    const parts = [section(t('cycle.title'), steps(cycle.status), cycleFacts(cycle),
      h('div', { class: 'actions', id: 'cycle-actions' }, stepActions(cycle, ctx, out, redraw)), out,
      notReleased(ctx.released, names))];
    if (cycle.status !== 'draft') {
      parts.push(await noticeSection(cycle, ctx, redraw), await objectionsSection(cycle, ctx, redraw));
    }
    if (cycle.status === 'released' || cycle.status === 'settled') parts.push(await bankSection(cycle, ctx, redraw));
    box.replaceChildren(...parts);
    if (onChange) await onChange(cycle);
    box.dataset.status = cycle.status; // set last: the whole page shows this state now
    return cycle;
  };
  return redraw();
}
