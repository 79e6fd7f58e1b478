// Review: the applications queue (approve; reject with a reason). Maker-checker is shown, not only enforced:
// the reviewer may not be the submitter, so the caller's own submissions offer no decision.

import { get, post } from '../api.js';
import { namesOf } from '../common.js';
import { applicationStatus } from '../components.js';
import { act, badge, errorText, h, link, notice, section, select, table } from '../dom.js';
import { dateText, levelName, t, timeText, yuan } from '../i18n.js';

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
      box, more, out));
  if (ctx.claims.roles.includes('bureau_admin') || ctx.claims.roles.includes('auditor')) {
    const [c, e, a, b] = await Promise.all([claims(ctx), employments(ctx), awards(ctx), bankAccounts(ctx)]);
    view.append(
      section(t('review.bankAccounts'), h('p', { class: 'muted' }, t('review.bankAccountsHelp')), b),
      section(t('review.claims'), h('p', { class: 'muted' }, t('review.claimsHelp')), c),
      section(t('review.employments'), h('p', { class: 'muted' }, t('review.employmentsHelp')), e),
      section(t('review.awards'), h('p', { class: 'muted' }, t('review.awardsHelp')), a));
  }

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

// A queue of things a second person decides: one list endpoint, approve and reject endpoints per item.
// `mine(item)` is true when the caller recorded it (they may not decide it); `done(item)` once decided.
async function queue(ctx, { id, list, columns, approve, reject, mine, done, state, needsReason }) {
  let items;
  try {
    items = (await get(list, { limit: 100 })).items;
  } catch (error) {
    return notice(errorText(error));
  }
  const names = await namesOf(items.map((x) => x.worker_id));
  const box = h('div');
  const isAdmin = ctx.claims.roles.includes('bureau_admin');
  const decide = (item) => {
    if (done(item)) return state(item);
    if (!isAdmin) return h('span', { class: 'muted' }, t('review.bureauOnly'));
    if (mine(item)) return h('span', { class: 'muted maker-checker' }, t('review.ownRecord'));
    const out = h('span', { class: 'out' });
    const reason = h('input', { class: 'reject-reason', placeholder: t('review.reasonHint'), maxlength: 500 });
    const yes = h('button', { type: 'button', class: 'small approve', onClick: () => act(yes, out, async () => {
      Object.assign(item, await post(approve(item)));
      draw();
    }) }, t('review.approve'));
    const no = h('button', { type: 'button', class: 'small secondary reject', onClick: () => {
      if (needsReason && !reason.value.trim()) { reason.focus(); return; }
      act(no, out, async () => {
        Object.assign(item, await post(reject(item), reason.value.trim() ? { reason: reason.value.trim() } : {}));
        draw();
      });
    } }, t('review.reject'));
    return h('div', { class: 'decision' }, yes, h('span', { class: 'reject-group' }, reason, no), out);
  };
  const draw = () => box.replaceChildren(table([
    { label: t('name'), cell: (x) => link(['workers', x.worker_id], names[x.worker_id] || x.worker_id.slice(0, 8)) },
    ...columns,
    { label: t('review.decision'), cell: decide },
  ], items, { id, empty: t('review.none') }));
  draw();
  return box;
}

function claims(ctx) {
  return queue(ctx, {
    id: 'claims-table', list: '/registry/v1/certificate-claims', needsReason: true,
    columns: [
      { label: t('level'), cell: (c) => levelName(c.level) },
      { label: t('certificateNo'), cell: (c) => c.certificate_no, class: 'mono' },
      { label: t('obtainedOn'), cell: (c) => dateText(c.obtained_on) },
      { label: t('review.recordedAt'), cell: (c) => timeText(c.created_at) },
    ],
    approve: (c) => `/registry/v1/workers/${enc(c.worker_id)}/certificates/${enc(c.id)}/verify`,
    reject: (c) => `/registry/v1/workers/${enc(c.worker_id)}/certificates/${enc(c.id)}/reject`,
    mine: (c) => c.recorded_by === ctx.claims.sub,
    done: (c) => c.verification !== 'claimed',
    state: (c) => badge(t(`verification.${c.verification}`), c.verification === 'verified' ? 'ok' : 'no'),
  });
}

function employments(ctx) {
  return queue(ctx, {
    id: 'employment-claims-table', list: '/registry/v1/employment-claims', needsReason: true,
    columns: [
      { label: t('role'), cell: (e) => e.role },
      { label: t('startDate'), cell: (e) => dateText(e.start_date) },
      { label: t('fullTime'), cell: (e) => (e.full_time ? t('yes') : t('no')) },
    ],
    approve: (e) => `/registry/v1/workers/${enc(e.worker_id)}/employments/${enc(e.id)}/confirm`,
    reject: (e) => `/registry/v1/workers/${enc(e.worker_id)}/employments/${enc(e.id)}/reject`,
    mine: () => false,
    done: (e) => e.confirmation !== 'pending',
    state: (e) => badge(t(`confirmation.${e.confirmation}`), e.confirmation === 'confirmed' ? 'ok' : 'no'),
  });
}

function awards(ctx) {
  return queue(ctx, {
    id: 'awards-table', list: '/subsidy/v1/awards', needsReason: false,
    columns: [
      { label: t('title'), cell: (a) => a.title },
      { label: t('amount'), cell: (a) => yuan(a.amount_fen), class: 'num' },
      { label: t('awardedOn'), cell: (a) => dateText(a.awarded_on) },
    ],
    approve: (a) => `/subsidy/v1/awards/${enc(a.id)}/approve`,
    reject: (a) => `/subsidy/v1/awards/${enc(a.id)}/reject`,
    mine: (a) => a.recorded_by === ctx.claims.sub,
    done: (a) => a.status !== 'recorded',
    state: (a) => badge(t(`awardStatus.${a.status}`), a.status === 'approved' ? 'ok' : 'no'),
  });
}

// A change of bank account recorded by a station, an HR system or the worker waits for a bureau_admin: confirmed,
// it becomes the account the bank is paid to (the previous one superseded); rejected, nothing changes.
function bankAccounts(ctx) {
  return queue(ctx, {
    id: 'bank-account-changes-table', list: '/registry/v1/bank-account-changes', needsReason: true,
    columns: [
      { label: t('bank.name'), cell: (b) => b.bank_name },
      { label: t('cycle.account'), cell: (b) => b.account_number, class: 'mono' },
      { label: t('bank.holder'), cell: (b) => b.holder_name },
      { label: t('review.recordedAt'), cell: (b) => timeText(b.created_at) },
    ],
    approve: (b) => `/registry/v1/workers/${enc(b.worker_id)}/bank-accounts/${enc(b.id)}/confirm`,
    reject: (b) => `/registry/v1/workers/${enc(b.worker_id)}/bank-accounts/${enc(b.id)}/reject`,
    mine: () => false,
    done: (b) => b.status !== 'pending',
    state: (b) => badge(t(`bankAccount.${b.status}`), b.status === 'verified' ? 'ok' : 'no'),
  });
}
