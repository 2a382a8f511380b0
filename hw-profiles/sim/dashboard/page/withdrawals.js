// Withdrawals from request to confirmation, the form that queues one on vweb (checked by the
// control API, each error shown next to its field), and the address batches the V-Device checks.
import { Badge, Card, html, useControl, useState } from './ui.js';
import { errorFor, otherErrors } from './api.js';
import { clockTime, sats, short } from './format.js';

export const STAGES = [
  ['queued', 'queued on vweb'],
  ['handedOut', 'V-Device'],
  ['requested', 'platform'],
  ['approved', 'HSM-Cold approved'],
  ['signed', 'HSM-Hot signed'],
  ['broadcast', 'broadcast'],
  ['confirmed', 'confirmed'],
];

const FORM_FIELDS = ['outs', 'dynamic', 'memo'];
const EXAMPLE = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY,10000';

export function WithdrawalForm({ refresh }) {
  const { busy, errors, run } = useControl(refresh);
  const [form, setForm] = useState({ outs: EXAMPLE, dynamic: '1', memo: '' });
  const [queued, setQueued] = useState(null);
  const set = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const submit = async (e) => {
    e.preventDefault();
    setQueued(null);
    const body = { outs: form.outs, dynamic: Number(form.dynamic), ...(form.memo === '' ? {} : { memo: form.memo }) };
    const result = await run('/control/withdrawal', body);
    if (result.ok) setQueued(result.body?.vtest_id ?? '?');
  };
  const error = (name) => {
    const message = errorFor(errors, name);
    return message === undefined ? null : html`<span class="field-error" data-testid="error-${name}">${message}</span>`;
  };
  return html`<${Card} title="New withdrawal" testid="withdrawal-form">
    <form class="stacked-form" onSubmit=${submit} novalidate>
      <label>outs <small>address,amount in satoshis; several separated by ";"</small>
        <input name="outs" value=${form.outs} onInput=${set('outs')} data-testid="outs" aria-invalid=${errorFor(errors, 'outs') !== undefined} />
        ${error('outs')}
      </label>
      <div class="row">
        <label>fee
          <select name="dynamic" value=${form.dynamic} onChange=${set('dynamic')} data-testid="dynamic">
            <option value="1">dynamic</option>
            <option value="0">fixed</option>
          </select>
          ${error('dynamic')}
        </label>
        <label class="grow">memo <input name="memo" value=${form.memo} onInput=${set('memo')} data-testid="memo" />${error('memo')}</label>
        <button type="submit" disabled=${busy} data-testid="withdraw">Queue on vweb</button>
      </div>
    </form>
    ${otherErrors(errors, FORM_FIELDS).map((m) => html`<p class="error-text" data-testid="form-error">${m}</p>`)}
    ${queued !== null ? html`<p class="ok-text" data-testid="queued">Queued as vtest_id ${queued}; the V-Device picks it up on its next poll.</p>` : null}
  <//>`;
}

function statusTone(row) {
  if (row.status === 'refused') return 'bad';
  if (row.status === 'confirmed') return 'ok';
  return 'warn';
}

export function WithdrawalTable({ rows, zone, limit }) {
  const shown = [...rows].reverse().slice(0, limit ?? rows.length);
  return html`<table class="withdrawals" data-testid="withdrawals">
    <thead>
      <tr><th>user_tx_no</th><th>pays</th><th>status</th>${STAGES.map(([, label]) => html`<th class="stage">${label}</th>`)}<th>tx</th></tr>
    </thead>
    <tbody>
      ${shown.length === 0 ? html`<tr><td colspan=${STAGES.length + 4} class="muted">No withdrawals yet.</td></tr>` : null}
      ${shown.map(
        (row) => html`<tr data-testid="withdrawal" data-user-tx-no=${row.userTxNo} data-status=${row.status}>
          <td><strong>${row.userTxNo}</strong>${row.cId !== null ? html`<br /><small>channel ${row.cId}</small>` : null}</td>
          <td title=${row.outs}>${row.total !== null ? sats(row.total) : short(row.outs, 10)}<br /><small>${row.outs.split(';').length} output${row.outs.split(';').length === 1 ? '' : 's'}${row.dynamic === null ? '' : row.dynamic ? ', dynamic fee' : ', fixed fee'}</small></td>
          <td>
            <${Badge} tone=${statusTone(row)}>${row.status}<//>
            ${row.refusal ? html`<div class="refusal" data-testid="refusal">${row.refusal.by}: ${row.refusal.code}<br /><small>${row.refusal.message}</small></div>` : null}
          </td>
          ${STAGES.map(([key]) => {
            const at = row.stages[key];
            return html`<td class="stage ${at !== undefined ? 'reached' : ''}">${at === undefined ? '·' : at === '' ? '✓' : clockTime(at, zone)}${key === 'confirmed' && row.confirmations > 0 ? html`<br /><small>${row.confirmations} conf.</small>` : null}</td>`;
          })}
          <td><code title=${row.txHash ?? ''}>${row.txHash ? short(row.txHash, 5) : '—'}</code></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function BatchTable({ batches }) {
  return html`<table class="compact" data-testid="batches">
    <thead><tr><th>wallet</th><th>batch</th><th>addresses</th><th>check by the V-Device</th></tr></thead>
    <tbody>
      ${batches.length === 0 ? html`<tr><td colspan="4" class="muted">None queued.</td></tr>` : null}
      ${batches.map(
        (b) => html`<tr><td>${b.wallet}</td><td>${b.batchNo}</td><td>${b.addresses}</td><td><${Badge} tone=${b.state === 'passed' ? 'ok' : b.state === 'failed' ? 'bad' : 'warn'}>${b.state}<//></td></tr>`,
      )}
    </tbody>
  </table>`;
}
