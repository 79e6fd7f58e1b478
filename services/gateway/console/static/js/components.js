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

export function eligibilityTimeline(e) {
  const months = [...e.months].reverse();
  return h('ol', { class: 'timeline', id: 'eligibility-timeline' }, months.map((m) => h('li', {
    class: `tl-item ${m.payable ? 'payable' : 'not-payable'}`, dataset: { month: m.month, rule: m.rule } },
  h('div', { class: 'tl-head' }, h('span', { class: 'tl-month' }, m.month),
    badge(ruleName(m.rule), m.payable ? 'ok' : m.rule === 'already_paid' ? 'info' : 'no'),
    m.amount_fen ? h('span', { class: 'tl-amount' }, yuan(m.amount_fen)) : null,
    m.level ? h('span', { class: 'muted' }, levelName(m.level)) : null),
  h('div', { class: 'tl-reason' }, m.reason))));
}

export function paymentsTable(lines) {
  return table([
    { label: t('month'), cell: (l) => l.month || dateText(l.awarded_on) },
    { label: t('kind'), cell: (l) => (l.kind === 'award' ? l.title || t('award') : t('subsidy')) },
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
