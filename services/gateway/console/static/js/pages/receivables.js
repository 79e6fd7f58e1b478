// What workers owe back (recovered - set off - repaid - written off): a bureau_admin records a repayment or
// proposes a write-off with a reason; a write-off counts once another bureau_admin approves it.

import { all, post } from '../api.js';
import { namesOf } from '../common.js';
import { act, badge, h, link, section, table } from '../dom.js';
import { t, timeText, yuan } from '../i18n.js';

const enc = encodeURIComponent;

// "12.5" / "12.50" / "12" yuan -> fen as an integer, without floating point; null when it is not an amount.
export function fenOf(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
  return match ? Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0')) : null;
}

function amountInput(cls) {
  return h('input', { class: `small ${cls}`, inputmode: 'decimal', placeholder: t('recv.yuan') });
}

function balanceActions(r, redraw) {
  const out = h('span', { class: 'out' });
  const repayAmount = amountInput('repay-amount');
  const repay = h('button', { type: 'button', class: 'small repay', onClick: () => {
    const fen = fenOf(repayAmount.value);
    if (!fen) { repayAmount.focus(); return; }
    act(repay, out, async () => {
      await post(`/subsidy/v1/receivables/${enc(r.worker_id)}/repayments`, { amount_fen: fen });
      await redraw();
    });
  } }, t('recv.repay'));
  const offAmount = amountInput('write-off-amount');
  const reason = h('input', { class: 'small write-off-reason', placeholder: t('recv.reason') });
  const propose = h('button', { type: 'button', class: 'small secondary propose-write-off', onClick: () => {
    const fen = fenOf(offAmount.value);
    if (!fen) { offAmount.focus(); return; }
    if (!reason.value.trim()) { reason.focus(); return; }
    act(propose, out, async () => {
      await post(`/subsidy/v1/receivables/${enc(r.worker_id)}/write-offs`, { amount_fen: fen, reason: reason.value.trim() });
      await redraw();
    });
  } }, t('recv.proposeWriteOff'));
  return h('div', { class: 'line-actions' }, h('div', null, repayAmount, repay),
    h('div', null, offAmount, reason, propose), out);
}

function writeOffDecision(w, ctx, redraw) {
  if (w.status !== 'proposed') return badge(t(`writeOff.${w.status}`), w.status === 'approved' ? 'ok' : 'no');
  if (!ctx.isAdmin) return badge(t('writeOff.proposed'), 'wait');
  if (w.proposed_by === ctx.claims.sub) return h('span', { class: 'rule own' }, t('recv.ownProposal'));
  const out = h('span', { class: 'out' });
  const decide = (verb) => {
    const b = h('button', { type: 'button', class: `small ${verb === 'reject' ? 'secondary ' : ''}${verb}-write-off`,
      onClick: () => act(b, out, async () => {
        await post(`/subsidy/v1/write-offs/${enc(w.id)}/${verb}`);
        await redraw();
      }) }, t(`recv.${verb}`));
    return b;
  };
  return h('span', { class: 'line-actions' }, decide('approve'), decide('reject'), out);
}

export async function receivablesSection(ctx) {
  const box = section(t('recv.title'));
  const redraw = async () => {
    const [balances, writeOffs] = await Promise.all([all('/subsidy/v1/receivables'), all('/subsidy/v1/write-offs')]);
    const owing = balances.filter((r) => r.balance_fen > 0);
    const names = await namesOf([...owing, ...writeOffs].map((r) => r.worker_id));
    const who = (r) => link(['workers', r.worker_id], names[r.worker_id] || r.worker_id.slice(0, 8));
    box.replaceChildren(h('h2', null, t('recv.title')), h('p', { class: 'muted' }, t('recv.help')),
      table([
        { label: t('name'), cell: who },
        { label: t('recv.recovered'), cell: (r) => yuan(r.recovered_fen), class: 'num' },
        { label: t('recv.setOff'), cell: (r) => yuan(r.set_off_fen), class: 'num' },
        { label: t('recv.repaid'), cell: (r) => yuan(r.repaid_fen), class: 'num' },
        { label: t('recv.writtenOff'), cell: (r) => yuan(r.written_off_fen), class: 'num' },
        { label: t('recv.balance'), cell: (r) => yuan(r.balance_fen), class: 'num balance' },
        ctx.isAdmin ? { label: t('actions'), cell: (r) => balanceActions(r, redraw) } : null,
      ].filter(Boolean), owing.map((r) => ({ ...r, id: r.worker_id })), { id: 'receivables-table', empty: t('recv.none') }),
      h('h3', null, t('recv.writeOffs')),
      table([
        { label: t('name'), cell: who },
        { label: t('amount'), cell: (w) => yuan(w.amount_fen), class: 'num' },
        { label: t('reason'), cell: (w) => w.reason },
        { label: t('recv.proposedAt'), cell: (w) => timeText(w.proposed_at) },
        { label: t('cycle.decision'), cell: (w) => writeOffDecision(w, ctx, redraw) },
      ], [...writeOffs].reverse(), { id: 'write-offs-table', empty: t('recv.noWriteOffs') }));
  };
  await redraw();
  return box;
}
