// Webhook subscriptions (an HR system told of each payment message): a bureau_admin subscribes an endpoint and
// sees its secret once, disables it; the bureau and auditors see every subscription and its deliveries.

import { all, get, post } from '../api.js';
import { act, badge, field, h, notice, section, table } from '../dom.js';
import { num, t, timeText } from '../i18n.js';

const enc = encodeURIComponent;

function deliveriesTable(items) {
  return table([
    { label: t('hook.event'), cell: (d) => d.payload.type || '—' },
    { label: t('status'), cell: (d) => badge(t(`delivery.${d.status}`), d.status === 'delivered' ? 'ok'
      : d.status === 'dead' ? 'no' : 'wait') },
    { label: t('hook.attempts'), cell: (d) => num(d.attempts), class: 'num' },
    { label: t('hook.lastAnswer'), cell: (d) => [d.last_status, d.last_error].filter((x) => x !== null).join(' ') || '—' },
    { label: t('hook.next'), cell: (d) => (d.status === 'pending' ? timeText(d.next_attempt_at) : timeText(d.delivered_at)) },
  ], items, { id: 'deliveries-table', empty: t('hook.noDeliveries') });
}

function createForm(out, created) {
  const url = h('input', { type: 'url', id: 'webhook-url', required: true, placeholder: 'https://', maxlength: 2000 });
  const description = h('input', { id: 'webhook-description', maxlength: 500 });
  const button = h('button', { type: 'submit', id: 'webhook-create' }, t('hook.create'));
  return h('form', { class: 'filters', id: 'webhook-form', onSubmit: (event) => {
    event.preventDefault();
    act(button, out, async () => {
      const hook = await post('/subsidy/v1/webhooks', { url: url.value.trim(),
        description: description.value.trim() || null });
      // the secret is never shown again: it stays on the page until the next navigation
      out.replaceChildren(notice(t('hook.secretOnce'), 'info'),
        h('p', null, h('code', { id: 'webhook-secret' }, hook.secret)));
      url.value = '';
      description.value = '';
      await created();
    });
  } }, field(t('hook.url'), url), field(t('hook.description'), description), button);
}

export async function render(view, ctx) {
  const isAdmin = ctx.claims.roles.includes('bureau_admin');
  const out = h('div', { id: 'webhook-out' });
  const listBox = h('div');
  const deliveries = h('div', { id: 'deliveries' });
  const drawList = async () => {
    const hooks = await all('/subsidy/v1/webhooks');
    listBox.replaceChildren(table([
      { label: t('hook.url'), cell: (w) => w.url, class: 'mono' },
      { label: t('hook.description'), cell: (w) => w.description || '—' },
      { label: t('status'), cell: (w) => badge(t(w.active ? 'hook.active' : 'hook.disabled'), w.active ? 'ok' : '') },
      { label: t('disb.createdAt'), cell: (w) => timeText(w.created_at) },
      { label: t('actions'), cell: (w) => {
        const show = h('button', { type: 'button', class: 'small secondary show-deliveries', onClick: () => act(show, out,
          async () => {
            const page = await get(`/subsidy/v1/webhooks/${enc(w.id)}/deliveries`, { limit: 100 });
            deliveries.replaceChildren(h('h3', null, t('hook.deliveriesOf', { url: w.url })), deliveriesTable(page.items));
          }) }, t('hook.deliveries'));
        if (!isAdmin || !w.active) return show;
        const disable = h('button', { type: 'button', class: 'small secondary disable-webhook', onClick: () => act(disable,
          out, async () => {
            await post(`/subsidy/v1/webhooks/${enc(w.id)}/disable`);
            await drawList();
          }) }, t('hook.disable'));
        return h('span', { class: 'line-actions' }, show, disable);
      } },
    ], hooks, { id: 'webhooks-table', empty: t('hook.none') }));
  };
  view.append(h('h1', null, t('page.webhooks')),
    section(t('hook.title'), h('p', { class: 'muted' }, t('hook.help')), isAdmin ? createForm(out, () => drawList()) : null, out, listBox,
      deliveries));
  await drawList();
}
