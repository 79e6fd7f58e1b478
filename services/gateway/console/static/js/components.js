// Parts the worker's page (bureau, station) and the social worker's phone page show alike.

import { badge, h, table } from './dom.js';
import { dateText, levelName, ruleName, t, timeText, yuan } from './i18n.js';

// Eligibility month by month, newest first: the rule that decided and the API's reason for each month.
export function eligibilitySummary(e) {
  return h('div', { class: 'eligibility-summary', id: 'eligibility-summary' },
    h('p', { class: e.eligible ? 'verdict ok' : 'verdict no', id: 'eligible' },
      e.eligible ? t('elig.yes') : t('elig.no')),
    h('p', null, t('elig.payableTotal', { yuan: yuan(e.payable_total_fen), n: e.payable_months.length })),
    e.reasons.length ? h('ul', { class: 'reasons' }, e.reasons.map((r) => h('li', null, r))) : null);
}

// Consecutive months decided alike (same rule, level and amount) form one entry, newest first; opening it
// shows each month with its own reason (e.g. how far a run of full-time months got).
function runs(months) {
  const out = [];
  for (const m of months) {
    const last = out[out.length - 1];
    if (last && last.rule === m.rule && last.level === m.level && last.amount_fen === m.amount_fen) last.months.push(m);
    else out.push({ rule: m.rule, level: m.level, amount_fen: m.amount_fen, payable: m.payable, months: [m] });
  }
  return out.reverse();
}

export function eligibilityTimeline(e) {
  return h('ol', { class: 'timeline', id: 'eligibility-timeline' }, runs(e.months).map((run) => {
    const first = run.months[0].month;
    const last = run.months[run.months.length - 1].month;
    const n = run.months.length;
    const head = h('div', { class: 'tl-head' },
      h('span', { class: 'tl-month' }, n > 1 ? `${first} – ${last}` : first),
      badge(ruleName(run.rule), run.payable ? 'ok' : run.rule === 'already_paid' ? 'info' : 'no'),
      run.amount_fen ? h('span', { class: 'tl-amount' }, n > 1 ? t('elig.perMonth', { yuan: yuan(run.amount_fen), n })
        : yuan(run.amount_fen)) : null,
      run.level ? h('span', { class: 'muted' }, levelName(run.level)) : n > 1 ? h('span', { class: 'muted' }, t('elig.months', { n })) : null);
    const reasons = new Set(run.months.map((m) => m.reason));
    const body = reasons.size === 1 ? h('div', { class: 'tl-reason' }, run.months[0].reason)
      : h('details', null, h('summary', { class: 'tl-reason' }, run.months[n - 1].reason),
        h('ul', { class: 'tl-months' }, [...run.months].reverse().map((m) => h('li', { dataset: { month: m.month } },
          h('span', { class: 'tl-month' }, m.month), ' ', m.reason))));
    return h('li', { class: `tl-item ${run.payable ? 'payable' : 'not-payable'}`,
      dataset: { from: first, to: last, months: String(n), rule: run.rule } }, head, body);
  }));
}

export function paymentsTable(lines) {
  return table([
    { label: t('month'), cell: (l) => l.month || dateText(l.awarded_on) },
    { label: t('kind'), cell: (l) => (l.kind === 'award' ? l.title || t('award') : t(`lineKind.${l.kind}`)) },
    { label: t('level'), cell: (l) => (l.level ? levelName(l.level) : '—') },
    { label: t('amount'), cell: (l) => yuan(l.amount_fen), class: 'num' },
    { label: t('status'), cell: (l) => h('span', null, badge(t(`line.${l.status}`), l.status === 'paid' ? 'ok'
      : l.status === 'failed' ? 'no' : ''), l.failure_reason ? ` ${l.failure_reason}` : '') },
  ], lines, { id: 'payments-table', empty: t('payments.none') });
}

export function applicationStatus(a) {
  return badge(t(`app.${a.status}`), a.status === 'approved' ? 'ok' : a.status === 'rejected' ? 'no' : 'wait');
}

export function applicationsTable(apps) {
  return table([
    { label: t('submittedAt'), cell: (a) => timeText(a.created_at) },
    { label: t('policy'), cell: (a) => a.policy },
    { label: t('status'), cell: (a) => applicationStatus(a) },
    { label: t('decidedAt'), cell: (a) => (a.decided_at ? timeText(a.decided_at) : '—') },
    { label: t('reason'), cell: (a) => a.decision_reason || '—' },
  ], apps, { id: 'applications-table', empty: t('apps.none') });
}

// The worker's statement month by month (months where something is due or happened): due, paid, pending,
// top-ups, recovered, net, and why.
export function statementTable(s) {
  const months = s.months.filter((m) => m.due_fen || m.paid_fen || m.pending_fen || m.recovered_fen || m.failed_fen)
    .reverse();
  return h('div', null,
    h('p', { id: 'statement-total' }, t('statement.total', { due: yuan(s.due_fen), net: yuan(s.net_fen) })),
    table([
      { label: t('month'), cell: (m) => m.month },
      { label: t('statement.due'), cell: (m) => yuan(m.due_fen), class: 'num' },
      { label: t('statement.paid'), cell: (m) => yuan(m.paid_fen), class: 'num' },
      { label: t('statement.pending'), cell: (m) => yuan(m.pending_fen), class: 'num' },
      { label: t('statement.topUps'), cell: (m) => yuan(m.top_ups_fen), class: 'num' },
      { label: t('statement.recovered'), cell: (m) => yuan(m.recovered_fen), class: 'num' },
      { label: t('statement.net'), cell: (m) => yuan(m.net_fen), class: 'num' },
      { label: t('reason'), cell: (m) => (m.last_entry && m.last_entry.reason) || m.reason || '—' },
    ], months, { id: 'statement-table', empty: t('payments.none') }));
}
