// The social worker's own page, made for a phone (375 px): am I eligible and why, month by month,
// my applications (apply from here), my payments, and an objection to a batch that lists me on notice.

import { all, get, post } from '../api.js';
import { currentMonth, policyCode } from '../common.js';
import { applicationStatus, eligibilitySummary, eligibilityTimeline, paymentsTable } from '../components.js';
import { act, badge, h, notice, refreshPage, section } from '../dom.js';
import { levelName, t, timeText, yuan } from '../i18n.js';

const enc = encodeURIComponent;

function applyBox(apps, workerId, policy, eligible) {
  const open = apps.find((a) => a.status === 'submitted' || a.status === 'approved');
  const list = h('ul', { class: 'plain', id: 'my-applications' }, apps.map((a) => h('li', null,
    applicationStatus(a), ' ', timeText(a.created_at), a.decision_reason ? ` · ${a.decision_reason}` : '')));
  if (open) return [list, h('p', { class: 'muted' }, t(`me.open.${open.status}`))];
  const out = h('div');
  const button = h('button', { type: 'button', id: 'apply', class: 'wide', onClick: () => act(button, out, async () => {
    await post('/subsidy/v1/applications', { worker_id: workerId, policy });
    refreshPage();
  }) }, t('me.apply'));
  return [list, eligible ? null : h('p', { class: 'muted' }, t('me.applyAnyway')), button, out];
}

// What the bureau told the worker about each batch, newest first: on notice, paid, failed with the bank's reason.
function notificationList(items) {
  const kind = { on_notice: 'info', paid: 'ok', failed: 'no' };
  return h('ul', { class: 'plain notifications', id: 'my-notifications' }, [...items].reverse().map((n) =>
    h('li', { class: `notification ${n.event}`, dataset: { event: n.event, month: n.month } },
      badge(t(`notif.${n.event}`), kind[n.event]), ' ',
      t(`notif.text.${n.event}`, { month: n.month, yuan: n.amount_fen === null ? '' : yuan(n.amount_fen) }),
      n.reason ? h('div', { class: 'notif-reason' }, t('notif.reason', { reason: n.reason })) : null,
      h('div', { class: 'muted' }, timeText(n.created_at)))));
}

// Batches that put me on notice and have not paid or failed me yet, with my pending lines in each: the API takes
// an objection on any of my lines of the batch (it holds my whole transfer). The worker cannot list objections
// (a batch's pages are the bureau's and the stations'), so the answer is shown once, here.
function objectionBoxes(notifications, payments) {
  const events = new Map();
  for (const n of notifications) events.set(n.disbursement_id, [...(events.get(n.disbursement_id) || []), n]);
  return [...events.entries()].filter(([, ns]) => ns.some((n) => n.event === 'on_notice')
    && !ns.some((n) => n.event === 'paid' || n.event === 'failed')).map(([batchId, ns]) => {
    const lines = payments.filter((l) => l.disbursement_id === batchId && l.status === 'pending' && l.kind !== 'recovery');
    if (!lines.length) return null;
    const month = ns[0].month;
    const out = h('div');
    const reason = h('textarea', { class: 'objection-reason', rows: 2, maxlength: 2000, placeholder: t('me.objectionHint') });
    const button = h('button', { type: 'button', class: 'wide object', onClick: () => {
      if (!reason.value.trim()) { reason.focus(); return; }
      act(button, out, async () => {
        const objection = await post(`/subsidy/v1/disbursements/${enc(batchId)}/lines/${lines[0].id}/objection`,
          { reason: reason.value.trim() });
        box.replaceChildren(notice(t('me.objected', { month, at: timeText(objection.created_at) }), 'info'));
      });
    } }, t('me.object'));
    const box = h('div', { class: 'objection', dataset: { batch: batchId } },
      h('p', null, t('me.onNotice', { month, yuan: yuan(lines.reduce((sum, l) => sum + l.amount_fen, 0)) })),
      reason, button, out);
    return box;
  }).filter(Boolean);
}

export async function render(view, ctx) {
  const workerId = ctx.claims.worker_id;
  if (!workerId) {
    view.append(notice(t('me.noWorker'), 'info'));
    return;
  }
  const policy = await policyCode();
  const [me, eligibility, apps, payments] = await Promise.all([
    get(`/registry/v1/workers/${enc(workerId)}`),
    get(`/subsidy/v1/workers/${enc(workerId)}/eligibility`, { policy, through: currentMonth() }),
    get('/subsidy/v1/applications', { worker_id: workerId, limit: 50 }).then((p) => p.items),
    get(`/subsidy/v1/workers/${enc(workerId)}/payments`, { limit: 500 }).then((p) => p.items),
  ]);
  const statement = await get(`/subsidy/v1/workers/${enc(workerId)}/statement`, { policy, through: currentMonth() })
    .catch(() => null);
  const certs = await get(`/registry/v1/workers/${enc(workerId)}/certificates`).then((p) => p.items, () => []);
  const notifications = await all(`/subsidy/v1/workers/${enc(workerId)}/notifications`)
    .then((items) => items.slice(-20), () => []);
  view.append(
    h('h1', { id: 'me-name' }, me.name),
    h('p', { class: 'muted' }, certs.filter((c) => c.status === 'valid').map((c) => levelName(c.level)).join(' · ')
      || t('me.noCertificate')),
    notifications.length ? section(t('me.notifications'), notificationList(notifications)) : null,
    ...objectionBoxes(notifications, payments).map((box) => section(t('me.objection'), box)),
    section(t('me.eligibility'), eligibilitySummary(eligibility)),
    section(t('me.applications'), ...applyBox(apps, workerId, policy, eligibility.eligible)),
    section(t('me.payments'), statement ? h('p', null, t('statement.total', { due: yuan(statement.due_fen),
      net: yuan(statement.net_fen) })) : null, paymentsTable(payments)),
    section(t('me.timeline'), h('p', { class: 'muted' }, t('me.timelineHelp')), eligibilityTimeline(eligibility)));
}
