// Station manager: the station's workers, the monthly service report as a grid (worker x full-time, hours)
// that is saved as a draft, confirmed and amended, and the station's micro-projects with their activities.

import { all, get, post } from '../api.js';
import { currentMonth, namesOf, stationList } from '../common.js';
import { act, badge, errorText, field, h, link, notice, refreshPage, section, select, table } from '../dom.js';
import { dateText, num, t, timeText, yuan } from '../i18n.js';

const enc = encodeURIComponent;
const DEFAULT_HOURS = 168;

function grid(rows, { editable, included }) {
  // rows: [{worker_id, name, full_time, service_hours, revision?}]
  const inputs = new Map();
  const body = rows.map((r) => {
    const use = h('input', { type: 'checkbox', class: 'use', checked: included(r), disabled: !editable.include });
    const fullTime = h('input', { type: 'checkbox', class: 'full-time', checked: r.full_time, disabled: !editable.values });
    const hours = h('input', { type: 'number', class: 'hours', min: 0, max: 744, step: '0.5',
      value: String(r.service_hours), disabled: !editable.values });
    inputs.set(r.worker_id, { use, fullTime, hours, row: r });
    return h('tr', { dataset: { worker: r.worker_id } },
      editable.include ? h('td', null, use) : null,
      h('td', null, link(['workers', r.worker_id], r.name || r.worker_id.slice(0, 8))),
      h('td', { class: 'center' }, fullTime), h('td', null, hours),
      r.revision ? h('td', { class: 'num muted' }, String(r.revision)) : null);
  });
  const head = h('tr', null, editable.include ? h('th', null, t('report.include')) : null, h('th', null, t('name')),
    h('th', null, t('fullTime')), h('th', null, t('report.hours')), rows[0] && rows[0].revision ? h('th', null, t('report.revision')) : null);
  const el = h('div', { class: 'table-wrap' }, h('table', { id: 'report-grid', class: 'grid-table' }, h('thead', null, head), h('tbody', null, body)));
  const entries = ({ onlyChanged = false } = {}) => [...inputs.entries()]
    .filter(([, i]) => i.use.checked)
    .map(([worker_id, i]) => ({ worker_id, full_time: i.fullTime.checked, service_hours: Number(i.hours.value || 0), row: i.row }))
    .filter((e) => !onlyChanged || e.full_time !== e.row.full_time || e.service_hours !== Number(e.row.service_hours))
    .map(({ row, ...e }) => e);
  const uncheck = (ids) => ids.forEach((id) => { if (inputs.has(id)) inputs.get(id).use.checked = false; });
  return { el, entries, uncheck };
}

async function reportSection(box, stationId, month, staff) {
  const page = await get('/projects/v1/service-reports', { station_id: stationId, month, limit: 1 });
  const report = page.items[0];
  const out = h('div', { id: 'report-out' });
  const reload = () => reportSection(box, stationId, month, staff);
  if (!report) {
    const g = grid(staff.map((w) => ({ worker_id: w.id, name: w.name, full_time: true, service_hours: DEFAULT_HOURS })),
      { editable: { include: true, values: true }, included: () => true });
    const save = h('button', { type: 'button', id: 'report-save', onClick: () => act(save, out, async () => {
      try {
        await post('/projects/v1/service-reports', { station_id: stationId, month, entries: g.entries() });
      } catch (error) {
        if (error.problem && error.problem.not_employed) {
          g.uncheck(error.problem.not_employed);
          throw Object.assign(new Error(t('report.notEmployed', { n: error.problem.not_employed.length })), { problem: {} });
        }
        throw error;
      }
      await reload();
    }) }, t('report.saveDraft'));
    box.replaceChildren(h('p', { class: 'muted', id: 'report-status' }, t('report.none', { month })), g.el,
      h('div', { class: 'actions' }, save), out);
    return;
  }
  const names = Object.fromEntries(staff.map((w) => [w.id, w.name]));
  const unknown = report.entries.map((e) => e.worker_id).filter((id) => !names[id]);
  Object.assign(names, await namesOf(unknown));
  const rows = report.entries.map((e) => ({ ...e, name: names[e.worker_id] }));
  const confirmed = report.status === 'confirmed';
  const g = grid(rows, { editable: { include: false, values: confirmed }, included: () => true });
  const status = h('p', { id: 'report-status' }, badge(t(`report.${report.status}`), confirmed ? 'ok' : 'wait'), ' ',
    confirmed ? t('report.confirmedAt', { at: timeText(report.confirmed_at) }) : t('report.draftHelp'),
    report.amended_at ? ` · ${t('report.amendedAt', { at: timeText(report.amended_at) })}` : '');
  const buttons = h('div', { class: 'actions' });
  if (!confirmed) {
    const confirm = h('button', { type: 'button', id: 'report-confirm', onClick: () => act(confirm, out, async () => {
      await post(`/projects/v1/service-reports/${enc(report.id)}/confirm`);
      await reload();
    }) }, t('report.confirm'));
    buttons.append(confirm);
  } else {
    const amend = h('button', { type: 'button', id: 'report-amend', class: 'secondary', onClick: () => act(amend, out, async () => {
      const changed = g.entries({ onlyChanged: true });
      if (!changed.length) {
        out.replaceChildren(notice(t('report.nothingChanged'), 'info'));
        return;
      }
      await post(`/projects/v1/service-reports/${enc(report.id)}/amend`, { entries: changed });
      await reload();
    }) }, t('report.amend'));
    buttons.append(h('span', { class: 'muted' }, t('report.amendHelp')), amend);
  }
  box.replaceChildren(status, g.el, buttons, out);
}

function projectsSection(projects) {
  const detail = h('div', { id: 'project-detail' });
  const out = h('div');
  const lifecycle = { draft: 'submit', approved: 'start', in_progress: 'complete' };
  const show = async (p) => {
    const activities = await get(`/projects/v1/projects/${enc(p.id)}/activities`, { limit: 100 }).then((x) => x.items);
    detail.replaceChildren(h('h3', null, p.title), h('p', { class: 'muted' }, p.goals),
      h('p', null, p.partners.map((x) => badge(`${t(`partner.${x.kind}`)}: ${x.name}`, 'info'))),
      table([
        { label: t('date'), cell: (a) => dateText(a.date) },
        { label: t('title'), cell: (a) => a.title },
        { label: t('project.beneficiaries'), cell: (a) => Object.entries(a.beneficiaries || {})
          .map(([k, v]) => `${t(`category.${k}`)} ${v}`).join(' · ') },
        { label: t('project.volunteerHours'), cell: (a) => String(a.volunteer_hours ?? '—'), class: 'num' },
        { label: t('project.expense'), cell: (a) => yuan(a.expense_fen), class: 'num' },
      ], activities, { id: 'activities-table', empty: t('project.noActivities') }));
  };
  const rows = table([
    { label: t('title'), cell: (p) => {
      const b = h('button', { type: 'button', class: 'link-button project-open', onClick: () => act(b, out, () => show(p)) },
        p.title);
      return b;
    } },
    { label: t('project.category'), cell: (p) => t(`category.${p.category}`) },
    { label: t('status'), cell: (p) => badge(t(`project.${p.status}`)) },
    { label: t('project.requested'), cell: (p) => yuan(p.requested_budget_fen), class: 'num' },
    { label: t('project.approved'), cell: (p) => (p.approved_budget_fen ? yuan(p.approved_budget_fen) : '—'), class: 'num' },
    { label: t('project.spent'), cell: (p) => yuan(p.spent_fen), class: 'num' },
    { label: t('actions'), cell: (p) => {
      const action = lifecycle[p.status];
      if (!action) return '—';
      const b = h('button', { type: 'button', class: 'small secondary', onClick: () => act(b, out, async () => {
        await post(`/projects/v1/projects/${enc(p.id)}/${action}`);
        refreshPage();
      }) }, t(`project.do.${action}`));
      return b;
    } },
  ], projects, { id: 'projects-table', empty: t('project.none') });
  return [rows, out, detail];
}

export async function render(view, ctx) {
  // A manager's own stations (every station can be listed, only these are theirs); the bureau's townships.
  const readable = await stationList();
  const own = ctx.claims.station_ids || [];
  const stations = own.length ? readable.filter((s) => own.includes(s.id)) : readable.filter((s) => s.kind === 'township');
  if (!stations.length) {
    view.append(h('h1', null, t('page.station')), notice(t('station.none'), 'info'));
    return;
  }
  const stationId = stations.some((s) => s.id === ctx.id) ? ctx.id : stations[0].id;
  const station = stations.find((s) => s.id === stationId);
  const month = ctx.params.get('month') || currentMonth();
  const picker = select(stations.map((s) => [s.id, s.name]), stationId, { id: 'station-picker',
    onChange: (e) => { location.hash = `#/station/${enc(e.target.value)}?month=${month}`; } });
  const monthInput = h('input', { type: 'month', id: 'report-month', value: month, max: currentMonth(),
    onChange: (e) => { if (e.target.value) location.hash = `#/station/${enc(stationId)}?month=${e.target.value}`; } });

  const [staff, projects] = await Promise.all([
    all('/registry/v1/workers', { station_id: stationId }),
    all('/projects/v1/projects', { station_id: stationId }),
  ]);
  const reportBox = h('div', { id: 'report' });
  view.append(
    h('h1', null, station.name, station.star_rating ? h('span', { class: 'stars' }, ` ${'★'.repeat(Math.min(station.star_rating, 10))}`) : null),
    h('div', { class: 'filters' }, field(t('station'), picker), field(t('month'), monthInput)),
    h('div', { class: 'grid' },
      section(t('station.report', { month }), reportBox),
      section(t('station.workers', { n: num(staff.length) }), table([
        { label: t('name'), cell: (w) => link(['workers', w.id], w.name) },
        { label: t('gender'), cell: (w) => t(`gender.${w.gender}`) },
        { label: t('phone'), cell: (w) => w.phone || '—', class: 'mono' },
        { label: t('registeredOn'), cell: (w) => dateText(w.registered_on) },
      ], staff, { id: 'station-workers' }))),
    section(t('station.projects'), ...projectsSection(projects)));
  try {
    await reportSection(reportBox, stationId, month, staff);
  } catch (error) {
    reportBox.replaceChildren(notice(errorText(error)));
  }
}
