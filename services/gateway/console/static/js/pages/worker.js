// A worker's page: the record (masked as the API masks it for this caller), certificates, employment,
// registration, training, honours, eligibility month by month, payments and applications.

import { get } from '../api.js';
import { currentMonth, policyCode, stationNames } from '../common.js';
import { applicationsTable, eligibilitySummary, eligibilityTimeline, paymentsTable, statementTable } from '../components.js';
import { badge, errorText, h, link, notice, section, table, wideSection } from '../dom.js';
import { dateText, levelName, t } from '../i18n.js';

const enc = encodeURIComponent;

function facts(w) {
  const rows = [
    [t('gender'), t(`gender.${w.gender}`)], [t('birthDate'), dateText(w.birth_date)],
    [t('idNumber'), w.id_number], [t('phone'), w.phone || '—'], [t('education'), w.education || '—'],
    [t('politicalStatus'), w.political_status || '—'], [t('fullTime'), w.full_time ? t('yes') : t('no')],
    [t('notes'), w.notes || '—'],
  ];
  return h('dl', { class: 'facts', id: 'worker-facts' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// Each part is its own request; one that is refused shows its reason and the rest of the page stays.
async function part(title, load, show, make = section) {
  try {
    return make(title, show(await load()));
  } catch (error) {
    return make(title, notice(errorText(error)));
  }
}

export async function render(view, ctx) {
  const id = ctx.id;
  const w = await get(`/registry/v1/workers/${enc(id)}`);
  const [policy, stations] = await Promise.all([policyCode(), stationNames()]);
  const list = (path) => get(`/registry/v1/workers/${enc(id)}/${path}`, { limit: 500 }).then((p) => p.items);
  view.append(h('p', null, link(['workers'], t('back'))),
    h('h1', { id: 'worker-name' }, w.name), section(t('worker.record'), facts(w)));

  const parts = await Promise.all([
    part(t('worker.certificates'), () => list('certificates'), (items) => table([
      { label: t('level'), cell: (c) => levelName(c.level) },
      { label: t('certificateNo'), cell: (c) => c.certificate_no, class: 'mono' },
      { label: t('obtainedOn'), cell: (c) => dateText(c.obtained_on) },
      { label: t('status'), cell: (c) => badge(t(`cert.${c.status}`), c.status === 'valid' ? 'ok' : 'no') },
      { label: t('revokedOn'), cell: (c) => (c.revoked_on ? `${dateText(c.revoked_on)} ${c.revoke_reason || ''}` : '—') },
      { label: t('ceHours'), cell: (c) => String(c.continuing_education_hours), class: 'num' },
    ], items, { id: 'certificates-table' })),
    part(t('worker.employment'), () => list('employments'), (items) => table([
      { label: t('station'), cell: (e) => stations[e.station_id] || '—' },
      { label: t('role'), cell: (e) => e.role },
      { label: t('startDate'), cell: (e) => dateText(e.start_date) },
      { label: t('endDate'), cell: (e) => (e.end_date ? dateText(e.end_date) : t('current')) },
      { label: t('fullTime'), cell: (e) => (e.full_time ? t('yes') : t('no')) },
    ], items, { id: 'employments-table' })),
    Promise.resolve(section(t('worker.registration'), h('p', { id: 'registration' }, w.registered_on
      ? t('worker.registeredOn', { date: dateText(w.registered_on), division: w.registration_division_code || '—' })
      : t('worker.notRegistered')))),
    part(t('worker.training'), () => list('trainings'), (items) => table([
      { label: t('kind'), cell: (x) => t(`training.${x.kind}`) },
      { label: t('title'), cell: (x) => x.title },
      { label: t('hours'), cell: (x) => String(x.hours), class: 'num' },
      { label: t('period'), cell: (x) => `${dateText(x.start_date)} – ${dateText(x.end_date)}` },
    ], items, { id: 'trainings-table' })),
    part(t('worker.honours'), () => list('honours'), (items) => table([
      { label: t('title'), cell: (x) => x.title },
      { label: t('honourLevel'), cell: (x) => x.level },
      { label: t('awardedOn'), cell: (x) => dateText(x.awarded_on) },
    ], items, { id: 'honours-table' })),
    part(t('worker.payments'), () => get(`/subsidy/v1/workers/${enc(id)}/payments`, { limit: 500 })
      .then((p) => p.items), paymentsTable),
    part(t('worker.applications'), () => get('/subsidy/v1/applications', { worker_id: id, limit: 100 })
      .then((p) => p.items), applicationsTable),
    part(t('worker.statement'), () => get(`/subsidy/v1/workers/${enc(id)}/statement`,
      { policy, through: currentMonth() }), statementTable, wideSection),
    part(t('worker.eligibility'), () => get(`/subsidy/v1/workers/${enc(id)}/eligibility`,
      { policy, through: currentMonth() }), (e) => h('div', { class: 'eligibility' }, eligibilitySummary(e),
      eligibilityTimeline(e)), wideSection),
  ]);
  view.append(h('div', { class: 'grid worker-grid' }, parts));
}
