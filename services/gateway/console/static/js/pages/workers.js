// Talent database (社工人才信息库): search and filters over GET /registry/v1/workers, a page at a time.

import { get } from '../api.js';
import { stationList } from '../common.js';
import { act, field, h, link, section, select, table } from '../dom.js';
import { dateText, levelName, t } from '../i18n.js';

const PAGE = 50;

export async function render(view, ctx) {
  const params = ctx.params;
  const stations = await stationList();
  const q = h('input', { type: 'search', id: 'filter-q', value: params.get('q') || '', placeholder: t('workers.qHint') });
  const station = select([['', t('all')], ...stations.map((s) => [s.id, s.name])], params.get('station_id') || '',
    { id: 'filter-station' });
  const level = select([['', t('all')], ...['assistant', 'intermediate', 'senior'].map((l) => [l, levelName(l)])],
    params.get('level') || '', { id: 'filter-level' });
  const registered = select([['', t('all')], ['true', t('yes')], ['false', t('no')]], params.get('registered') || '',
    { id: 'filter-registered' });
  const form = h('form', { class: 'filters', id: 'worker-filters', onSubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, input] of [['q', q], ['station_id', station], ['level', level], ['registered', registered]]) {
      if (input.value) next.set(key, input.value);
    }
    location.hash = `#/workers?${next}`;
  } },
  field(t('workers.q'), q), field(t('station'), station), field(t('level'), level),
  field(t('workers.registered'), registered), h('button', { type: 'submit', id: 'filter-submit' }, t('search')));

  const results = h('div', { id: 'worker-results' });
  const more = h('button', { type: 'button', id: 'more', hidden: true }, t('more'));
  const out = h('div');
  view.append(h('h1', null, t('page.workers')), section(t('workers.filters'), form), section(t('workers.list'),
    results, more, out));

  const rows = [];
  let cursor = null;
  const filters = Object.fromEntries(['q', 'station_id', 'level', 'registered']
    .map((k) => [k, params.get(k) || undefined]));
  async function load() {
    const page = await get('/registry/v1/workers', { ...filters, limit: PAGE, cursor });
    rows.push(...page.items);
    cursor = page.next_cursor;
    results.replaceChildren(table([
      { label: t('name'), cell: (w) => link(['workers', w.id], w.name) },
      { label: t('gender'), cell: (w) => t(`gender.${w.gender}`) },
      { label: t('birthDate'), cell: (w) => dateText(w.birth_date) },
      { label: t('idNumber'), cell: (w) => w.id_number, class: 'mono' },
      { label: t('phone'), cell: (w) => w.phone || '—', class: 'mono' },
      { label: t('fullTime'), cell: (w) => (w.full_time ? t('yes') : t('no')) },
      { label: t('registeredOn'), cell: (w) => dateText(w.registered_on) },
    ], rows, { id: 'workers-table', empty: t('workers.none') }));
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => act(more, out, load));
  await load();
}
