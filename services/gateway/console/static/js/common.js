// Look-ups several pages share: the policy, station names, worker names, months in the bureau's time zone.

import { all, get } from './api.js';

let policy = null;
let stations = null;
const workerNames = new Map();

// The subsidy policy the console works with: the bureau's first (the one the migration inserts, the demo's
// otog-talent-subsidy), not the first by code: a policy added later (a test's copy) must not change every page.
export async function policyCode() {
  if (!policy) {
    const page = await get('/subsidy/v1/policies');
    const first = page.items.reduce((a, p) => (!a || p.created_at < a.created_at ? p : a), null);
    policy = first ? first.code : 'otog-talent-subsidy';
  }
  return policy;
}

export async function stationList() {
  if (!stations) stations = await all('/registry/v1/stations');
  return stations;
}

export async function stationNames() {
  return Object.fromEntries((await stationList()).map((s) => [s.id, s.name]));
}

// Names of the workers on the current page (at most one page of a list), a few requests at a time.
export async function namesOf(ids) {
  const missing = [...new Set(ids)].filter((id) => !workerNames.has(id));
  for (let i = 0; i < missing.length; i += 8) {
    await Promise.all(missing.slice(i, i + 8).map((id) => get(`/registry/v1/workers/${encodeURIComponent(id)}`)
      .then((w) => workerNames.set(id, w.name), () => workerNames.set(id, null))));
  }
  return Object.fromEntries(ids.map((id) => [id, workerNames.get(id)]));
}

export function forgetCaches() {
  policy = null;
  stations = null;
  workerNames.clear();
}

// YYYY-MM now in Asia/Shanghai (the bureau's months), whatever the browser's time zone.
export function currentMonth() {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' })
    .formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('year')}-${get('month')}`;
}

export function addMonths(month, n) {
  const [y, m] = month.split('-').map(Number);
  const idx = y * 12 + (m - 1) + n;
  return `${Math.floor(idx / 12)}-${String((idx % 12) + 1).padStart(2, '0')}`;
}

// The `count` months ending with `last`, oldest first.
export function monthsBack(last, count) {
  return Array.from({ length: count }, (_, i) => addMonths(last, i - count + 1));
}
