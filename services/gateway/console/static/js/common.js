// Look-ups several pages share: the policy, station names, worker names, months in the bureau's time zone.

import { all, get } from './api.js';

let policy = null;
let stations = null;
const workerNames = new Map();

// The subsidy policy the console works with: the first one the API lists (the demo's otog-talent-subsidy).
export async function policyCode() {
  if (!policy) {
    const page = await get('/subsidy/v1/policies');
    policy = page.items.length ? page.items[0].code : 'otog-talent-subsidy';
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
