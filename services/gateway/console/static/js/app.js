// The console's shell: login, navigation by role, hash routes (#/page/id), the language switch.

import * as api from './api.js';
import { h } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { destroyCharts } from './charts.js';
import { forgetCaches } from './common.js';
import * as dashboard from './pages/dashboard.js';
import * as workers from './pages/workers.js';
import * as worker from './pages/worker.js';
import * as importPage from './pages/import.js';
import * as review from './pages/review.js';
import * as disbursements from './pages/disbursements.js';
import * as station from './pages/station.js';
import * as me from './pages/me.js';
import * as webhooks from './pages/webhooks.js';

const ADMIN = 'bureau_admin';
const AUDITOR = 'auditor';
const MANAGER = 'station_manager';
const WORKER = 'social_worker';

// Page name -> module and the roles that see it in the navigation (the services decide what they answer).
const PAGES = {
  dashboard: { module: dashboard, roles: [ADMIN, AUDITOR, MANAGER] },
  workers: { module: workers, roles: [ADMIN, AUDITOR, MANAGER], detail: worker },
  import: { module: importPage, roles: [ADMIN, MANAGER] },
  review: { module: review, roles: [ADMIN, AUDITOR, MANAGER] },
  disbursements: { module: disbursements, roles: [ADMIN, AUDITOR, MANAGER] },
  station: { module: station, roles: [ADMIN, MANAGER] },
  webhooks: { module: webhooks, roles: [ADMIN, AUDITOR] },
  me: { module: me, roles: [WORKER] },
};

const root = document.getElementById('app');
let renderCount = 0;

function roles() {
  const c = api.claims();
  return (c && c.roles) || [];
}

function visiblePages() {
  const mine = roles();
  return Object.keys(PAGES).filter((name) => PAGES[name].roles.some((r) => mine.includes(r)));
}

function home() {
  const mine = roles();
  if (mine.includes(ADMIN) || mine.includes(AUDITOR)) return 'dashboard';
  if (mine.includes(MANAGER)) return 'station';
  if (mine.includes(WORKER)) return 'me';
  return visiblePages()[0] || 'me';
}

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [page, ...rest] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page, id: rest[0], rest, params: new URLSearchParams(query) };
}

function langSwitch() {
  const other = lang() === 'zh-CN' ? 'en' : 'zh-CN';
  return h('button', { type: 'button', class: 'link-button', id: 'lang-switch', lang: other,
    onClick: () => { setLang(other); render(); } }, other === 'en' ? 'English' : '中文');
}

function loginPage() {
  const username = h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', id: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const out = h('div', { class: 'out' });
  const button = h('button', { type: 'submit', id: 'login-button' }, t('login'));
  const form = h('form', { class: 'login card', id: 'login-form', onSubmit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api.login(username.value, password.value);
      password.value = '';
      location.hash = '#/' + home();
      render();
    } catch (error) {
      const text = error.status === 429 ? t('loginThrottled', { seconds: error.retryAfter || '?' })
        : error.status === 400 || error.status === 401 ? t('loginFailed') : error.message;
      out.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, text));
      document.body.dataset.state = 'ready';
    } finally {
      button.disabled = false;
    }
  } },
  h('h1', null, t('appTitle')),
  h('label', { class: 'field' }, h('span', null, t('username')), username),
  h('label', { class: 'field' }, h('span', null, t('password')), password),
  button, out);
  return h('div', { class: 'login-page' }, h('div', { class: 'login-top' }, langSwitch()), form);
}

function shell(current, view) {
  const c = api.claims();
  const nav = h('nav', { class: 'nav', id: 'nav' }, visiblePages().map((name) => h('a', {
    href: `#/${name}`, class: name === current ? 'active' : '', id: `nav-${name}` }, t(`page.${name}`))));
  const who = h('span', { class: 'who', id: 'who' }, c.preferred_username || c.sub, ' · ',
    roles().map((r) => t(`role.${r}`)).join(', '));
  const logout = h('button', { type: 'button', class: 'link-button', id: 'logout', onClick: async () => {
    await api.logout();
  } }, t('logout'));
  return [
    h('header', { class: 'top' }, h('a', { class: 'brand', href: `#/${home()}` }, t('appTitle')),
      h('div', { class: 'top-right' }, who, langSwitch(), logout)),
    nav,
    h('main', { id: 'main' }, view),
  ];
}

export async function render() {
  const count = ++renderCount;
  destroyCharts();
  document.documentElement.lang = lang();
  document.title = t('appTitle');
  document.body.dataset.state = 'loading';
  if (!api.claims()) {
    document.body.dataset.page = 'login';
    root.replaceChildren(loginPage());
    document.body.dataset.state = 'ready';
    return;
  }
  const route = parseHash();
  const name = PAGES[route.page] ? route.page : home();
  if (route.page !== name) {
    history.replaceState(null, '', `#/${name}`);
  }
  const entry = PAGES[name];
  const module = route.id && entry.detail ? entry.detail : entry.module;
  const view = h('div', { class: `page page-${name}` });
  document.body.dataset.page = route.id && entry.detail ? `${name}-detail` : name;
  root.replaceChildren(...shell(name, view));
  try {
    await module.render(view, { ...route, claims: api.claims() });
    if (count === renderCount) document.body.dataset.state = 'ready';
  } catch (error) {
    if (count !== renderCount) return;
    if (error.status === 401) return; // the session ended: the login page is being shown
    view.append(h('div', { class: 'notice error', role: 'alert' }, error.message));
    document.body.dataset.state = 'error';
  }
}

// Signed out or the refresh was refused: nothing of the last user stays in memory.
api.onSessionEnd(() => {
  forgetCaches();
  history.replaceState(null, '', '#/');
  render();
});
window.addEventListener('hashchange', () => render());
render();
