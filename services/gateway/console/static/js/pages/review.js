// Review: the applications queue (approve; reject with a reason). Maker-checker is shown, not only enforced:
// the reviewer may not be the submitter, so the caller's own submissions offer no decision.

import { get, post } from '../api.js';
import { namesOf } from '../common.js';
import { applicationStatus } from '../components.js';
import { act, h, link, section, select, table, waiting } from '../dom.js';
import { t, timeText } from '../i18n.js';

const enc = encodeURIComponent;

function decision(app, claims, names, refresh) {
  const out = h('div', { class: 'out' });
  if (app.status !== 'submitted') {
    return h('div', null, app.reviewed_by === claims.sub ? t('review.byYou') : '',
      app.decision_reason ? ` ${app.decision_reason}` : '');
  }
  if (!claims.roles.includes('bureau_admin')) return h('span', { class: 'muted' }, t('review.bureauOnly'));
  if (app.submitted_by === claims.sub) {
    return h('span', { class: 'muted maker-checker' }, t('review.ownSubmission'));
  }
  const approve = h('button', { type: 'button', class: 'approve', onClick: () => act(approve, out, async () => {
    Object.assign(app, await post(`/subsidy/v1/applications/${enc(app.id)}/approve`));
    refresh();
  }) }, t('review.approve'));
  const reason = h('input', { class: 'reject-reason', placeholder: t('review.reasonHint'), maxlength: 2000 });
  const reject = h('button', { type: 'button', class: 'reject secondary', onClick: () => {
    if (!reason.value.trim()) {
      reason.focus();
      out.replaceChildren(h('span', { class: 'notice error' }, t('review.reasonNeeded')));
      return;
    }
    act(reject, out, async () => {
      Object.assign(app, await post(`/subsidy/v1/applications/${enc(app.id)}/reject`, { reason: reason.value.trim() }));
      refresh();
    });
  } }, t('review.reject'));
  return h('div', { class: 'decision' }, approve, h('span', { class: 'reject-group' }, reason, reject), out);
}

export async function render(view, ctx) {
  const status = ctx.params.get('status') || 'submitted';
  const filter = select([['submitted', t('app.submitted')], ['approved', t('app.approved')],
    ['rejected', t('app.rejected')], ['', t('all')]], status, { id: 'app-status', onChange: (e) => {
    location.hash = `#/review?status=${e.target.value || 'all'}`;
  } });
  const box = h('div', { id: 'applications' });
  const more = h('button', { type: 'button', id: 'more', hidden: true }, t('more'));
  const out = h('div');
  view.append(h('h1', null, t('page.review')),
    section(t('review.applications'), h('p', { class: 'muted' }, t('review.makerChecker')),
      h('div', { class: 'filters' }, h('label', { class: 'field' }, h('span', null, t('status')), filter)),
      box, more, out),
    section(t('review.claims'), waiting(t('review.claimsApi'))),
    section(t('review.awards'), waiting(t('review.awardsApi'))));

  const apps = [];
  const names = {};
  let cursor = null;
  const show = () => box.replaceChildren(table([
    { label: t('submittedAt'), cell: (a) => timeText(a.created_at) },
    { label: t('name'), cell: (a) => link(['workers', a.worker_id], names[a.worker_id] || a.worker_id.slice(0, 8)) },
    { label: t('policy'), cell: (a) => a.policy },
    { label: t('review.submitter'), cell: (a) => (a.submitted_by === ctx.claims.sub ? t('review.you') : a.submitted_by.slice(0, 8)) },
    { label: t('status'), cell: (a) => applicationStatus(a) },
    { label: t('review.decision'), cell: (a) => decision(a, ctx.claims, names, show) },
  ], apps, { id: 'applications-table', empty: t('review.none') }));
  async function load() {
    const page = await get('/subsidy/v1/applications', { status: status === 'all' ? undefined : status, limit: 50, cursor });
    Object.assign(names, await namesOf(page.items.map((a) => a.worker_id)));
    apps.push(...page.items);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    show();
  }
  more.addEventListener('click', () => act(more, out, load));
  await load();
}
