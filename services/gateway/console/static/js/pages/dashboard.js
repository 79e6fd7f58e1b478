// Bureau dashboard: aggregates only (stats and report endpoints, short lists of projects and calls);
// nothing here walks the workers, so it answers as fast with 100,000 workers as with 100 (bench/dashboard.py).

import { get, all } from '../api.js';
import { bar, doughnut } from '../charts.js';
import { currentMonth, monthsBack, policyCode } from '../common.js';
import { errorText, h, kpi, notice, section } from '../dom.js';
import { levelName, num, t, yuan } from '../i18n.js';

const LEVELS = ['assistant', 'intermediate', 'senior'];
const PROJECT_STATES = ['draft', 'submitted', 'approved', 'rejected', 'in_progress', 'completed', 'closed'];

function holdersCard(stats) {
  const holders = stats.certificate_holders;
  const parts = LEVELS.filter((l) => holders.by_level[l]).map((l) => num(holders.by_level[l]));
  const equation = `${num(holders.total)} = ${parts.join(' + ') || '0'}`;
  return section(t('dash.holders'),
    h('p', { class: 'equation', id: 'holders-equation' }, equation),
    doughnut('chart-holders-level', LEVELS.map(levelName), LEVELS.map((l) => holders.by_level[l] || 0)));
}

// Holders working at each station now, stacked by level (a holder at two stations counts at each).
function holdersByStationCard(stats, stationName) {
  const rows = stats.certificate_holders.by_station || [];
  return section(t('dash.holdersByStation'), bar('chart-holders-station',
    rows.map((r) => stationName[r.station_id] || r.station_id.slice(0, 8)),
    LEVELS.map((l) => ({ label: levelName(l), data: rows.map((r) => r.by_level[l]), stack: 'l' })),
    { chart: { indexAxis: 'y', scales: { x: { stacked: true, ticks: { precision: 0 } }, y: { stacked: true } } } },
    { tall: rows.length > 8 }));
}

// Holders at the end of each year since the first certificate (this year: now).
function holdersOverTimeCard(stats) {
  const years = stats.certificate_holders.by_year || [];
  return section(t('dash.holdersOverTime'), bar('chart-holders-year', years.map((y) => String(y.year)),
    [{ label: t('dash.holdersTotal'), data: years.map((y) => y.total), type: 'line', borderColor: '#2f6fb0', fill: false }],
    { chart: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }));
}

export async function render(view) {
  const policy = await policyCode();
  const now = currentMonth();
  const months = monthsBack(now, 12);
  const parts = await Promise.allSettled([
    get('/registry/v1/stats'),
    // one summary: totals (net of recoveries), by level, by station and by month
    get('/subsidy/v1/reports/summary', { policy, from: '2000-01', to: now }),
    get('/subsidy/v1/applications', { status: 'submitted', limit: 500 }),
    all('/projects/v1/projects'),
    all('/projects/v1/calls'),
    all('/registry/v1/stations'),
  ]);
  const [stats, summary, waitingApps, projects, calls, stations] = parts.map((p) => (p.status === 'fulfilled' ? p.value : null));
  const failed = (i, title) => section(title, notice(errorText(parts[i].reason)));

  const stationName = Object.fromEntries((stations || []).map((s) => [s.id, s.name]));
  const kpis = h('div', { class: 'kpis' },
    stats ? kpi(t('dash.holdersTotal'), num(stats.certificate_holders.total),
      LEVELS.map((l) => `${levelName(l)} ${num(stats.certificate_holders.by_level[l])}`).join(' · '), 'kpi-holders') : null,
    summary ? kpi(t('dash.paid'), t('dash.peopleYuan', { people: num(summary.people), yuan: yuan(summary.total_fen) }),
      t('dash.paidNote', { to: now, pending: yuan(summary.pending_fen || 0) }), 'kpi-paid') : null,
    waitingApps ? kpi(t('dash.waiting'), waitingApps.next_cursor ? `${num(waitingApps.items.length)}+`
      : num(waitingApps.items.length), t('dash.waitingNote'), 'kpi-waiting') : null,
    stats ? kpi(t('dash.workers'), num(stats.workers), t('dash.stations', { n: num(stats.stations) }), 'kpi-workers') : null);
  view.append(h('h1', null, t('page.dashboard')), kpis);

  const grid = h('div', { class: 'grid' });
  view.append(grid);
  if (stats) grid.append(holdersCard(stats), holdersOverTimeCard(stats), holdersByStationCard(stats, stationName));
  else grid.append(failed(0, t('dash.holders')));

  if (summary) {
    const month = (m) => (summary.by_month || {})[m] || {};
    const series = (key, sign = 1) => months.map((m) => sign * (month(m)[key] || 0) / 100);
    grid.append(section(t('dash.paidByMonth'),
      bar('chart-paid-month', months, [
        { label: t('dash.paidFen'), data: series('paid_fen'), stack: 's' },
        { label: t('dash.pendingFen'), data: series('pending_fen'), stack: 's' },
        { label: t('dash.recoveredFen'), data: series('recovered_fen', -1), stack: 's' },
        { label: t('dash.netFen'), data: series('net_fen'), type: 'line', backgroundColor: '#1f2933', borderColor: '#1f2933' },
      ], { label: t('dash.paidByMonth'), chart: { scales: { x: { stacked: true }, y: { stacked: true } } } }),
      h('p', { class: 'muted' }, t('dash.receivable', { yuan: yuan(summary.receivable_fen || 0) }))));
    const ids = Object.keys(summary.by_station || {});
    grid.append(section(t('dash.paidByStation'), bar('chart-paid-station',
      ids.map((id) => stationName[id] || t('dash.unknownStation')),
      [{ label: t('dash.people'), data: ids.map((id) => summary.by_station[id].people) }],
      { chart: { indexAxis: 'y' } })));
  } else {
    grid.append(failed(1, t('dash.paidByMonth')));
  }

  if (projects) {
    const counts = PROJECT_STATES.map((s) => projects.filter((p) => p.status === s).length);
    grid.append(section(t('dash.projects'), bar('chart-projects', PROJECT_STATES.map((s) => t(`project.${s}`)),
      [{ label: t('dash.projectCount'), data: counts }],
      { chart: { plugins: { legend: { display: false } }, scales: { y: { ticks: { precision: 0 } } } } })));
  } else {
    grid.append(failed(3, t('dash.projects')));
  }

  if (calls && projects) {
    const spent = (call) => projects.filter((p) => p.call_id === call.id).reduce((s, p) => s + p.spent_fen, 0);
    grid.append(section(t('dash.calls'), bar('chart-calls', calls.map((c) => c.title), [
      { label: t('dash.budget'), data: calls.map((c) => c.total_budget_fen / 100) },
      { label: t('dash.allocated'), data: calls.map((c) => c.allocated_fen / 100) },
      { label: t('dash.spent'), data: calls.map((c) => spent(c) / 100) },
    ])));
  } else if (!calls) {
    grid.append(failed(4, t('dash.calls')));
  }
}
