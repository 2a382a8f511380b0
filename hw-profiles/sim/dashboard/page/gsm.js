// GSM: HSM-Cold's two modems and SIMs, the two carriers with their outage switches, an SMS
// sender, and the SMS traffic as a conversation between HSM-Cold's SIMs, the V-Device and the
// administrator. Texts are what the event stream shows: the app protocol in full, anything
// else as its length.
import { Badge, Card, html, useControl, useState } from './ui.js';
import { errorFor, otherErrors } from './api.js';
import { clockTime } from './format.js';

function registration(stat) {
  return ['not registered', 'home network', 'searching', 'denied', 'unknown', 'roaming'][stat] ?? 'not read yet';
}

function signal(rssi) {
  return rssi >= 0 && rssi <= 31 ? `${2 * rssi - 113} dBm` : 'unknown';
}

export function GsmCard({ view, refresh }) {
  const { busy, errors, run } = useControl(refresh);
  const gsm = view.gsm;
  const modemFor = (sim) => gsm.modems.find((m) => m.name === `sim${sim}`) ?? gsm.modems[sim - 1];
  return html`<${Card} title="GSM" testid="gsm">
    <div class="carriers">
      ${gsm.carriers.map(
        (c) => html`<div class="carrier" data-testid="carrier-${c.id}">
          <strong>Carrier ${c.id}</strong>
          <${Badge} tone=${c.up ? 'ok' : 'bad'} testid="carrier-${c.id}-state">${c.up ? 'up' : 'outage'}<//>
          <label class="switch">
            <input type="checkbox" checked=${!c.up} disabled=${busy} data-testid="carrier-${c.id}-outage" onChange=${(e) => run('/control/fault', { fault: 'carrier', carrier: c.id, up: !e.currentTarget.checked })} />
            outage
          </label>
        </div>`,
      )}
    </div>
    <table class="compact" data-testid="modems">
      <thead><tr><th>SIM</th><th>number</th><th>carrier</th><th>modem</th><th>registration</th><th>signal</th><th>operator</th><th></th></tr></thead>
      <tbody>
        ${gsm.sims.map((s) => {
          const m = modemFor(s.sim);
          return html`<tr data-testid="sim-${s.sim}">
            <th>SIM${s.sim}</th><td>${s.msisdn}</td><td>${s.carrierId}</td>
            <td>${m ? html`<${Badge} tone=${m.state === 'ready' && m.registered ? 'ok' : m.state === 'ready' ? 'warn' : 'bad'}>${m.state}<//>` : '—'}</td>
            <td>${m ? registration(m.regStat) : '—'}</td><td>${m ? signal(m.rssi) : '—'}</td><td>${m?.operator ?? '—'}</td>
            <td><button class="chip" disabled=${busy} data-testid="sim-${s.sim}-plug" onClick=${() => run('/control/fault', { fault: 'modem', sim: s.sim, plugged: !s.plugged })}>${s.plugged ? 'unplug' : 'plug in'}</button></td>
          </tr>`;
        })}
      </tbody>
    </table>
    <p class="muted small" data-testid="outbox">HSM-Cold's outbound queue: ${gsm.outbox ? `${gsm.outbox.queued} queued, ${gsm.outbox.sending} sending, ${gsm.outbox.failed} failed` : '—'}
      · V-Device ${gsm.numbers.vDevice} · administrator ${gsm.numbers.admin}</p>
    ${errors.map((e) => html`<p class="error-text">${e.message}</p>`)}
  <//>`;
}

/** The parties of the conversation, one lane each. */
function lanesOf(numbers) {
  return [
    { key: 'sim1', label: 'HSM-Cold SIM1', number: numbers.coldSim1 },
    { key: 'sim2', label: 'HSM-Cold SIM2', number: numbers.coldSim2 },
    { key: 'vdevice', label: 'V-Device', number: numbers.vDevice },
    { key: 'admin', label: 'Administrator', number: numbers.admin },
  ];
}

/** SMS as the stream told them: one message per submission, its fate from later events. */
export function smsMessages(events) {
  const messages = [];
  const bySubmission = new Map();
  for (const e of events) {
    if (e.type === 'sms.sent') {
      const message = { seq: e.seq, at: e.at, from: e.from, to: e.to, kind: e.kind, text: e.text, carrier: e.carrier, fate: 'sent' };
      messages.push(message);
      if (e.submissionId !== undefined) bySubmission.set(e.submissionId, message);
    } else if (e.type === 'sms.delivered') {
      const message = bySubmission.get(e.submissionId) ?? [...messages].reverse().find((m) => m.fate === 'sent' && m.from === e.from && m.to === e.to);
      if (message) message.fate = e.duplicate ? 'delivered twice' : 'delivered';
      else messages.push({ seq: e.seq, at: e.at, from: e.from, to: e.to, kind: e.kind, text: e.text, carrier: '', fate: 'delivered' });
    } else if (['sms.lost', 'sms.expired', 'sms.retrying'].includes(e.type)) {
      const message = bySubmission.get(e.submissionId);
      if (message && message.fate !== 'delivered') message.fate = e.type.slice(4);
    } else if (e.type === 'sms.refused') {
      messages.push({ seq: e.seq, at: e.at, from: e.from, to: e.to, kind: 'refused', text: e.reason ?? '', carrier: '', fate: `refused (CMS ${e.cms})` });
    }
  }
  return messages;
}

export function Conversation({ events, numbers, zone, limit = 60 }) {
  const lanes = lanesOf(numbers);
  const lane = (number) => lanes.findIndex((l) => l.number === number);
  const messages = smsMessages(events).slice(-limit).reverse();
  return html`<${Card} title="SMS conversation" testid="conversation" wide=${true}>
    <div class="lanes">
      ${lanes.map((l, i) => html`<div class="lane-head" style=${{ gridColumn: `${i + 1}` }}>${l.label}<br /><small>${l.number}</small></div>`)}
      ${messages.length === 0 ? html`<p class="muted" style=${{ gridColumn: '1 / 5' }}>No SMS yet.</p>` : null}
      ${messages.map((m) => {
        const a = lane(m.from);
        const b = lane(m.to);
        const from = a < 0 ? (b <= 1 ? 3 : 0) : a;
        const to = b < 0 ? (a <= 1 ? 3 : 0) : b;
        const left = Math.min(from, to);
        const right = Math.max(from, to);
        const rightward = to >= from;
        return html`<div class="message ${rightward ? 'rightward' : 'leftward'} ${m.kind === 'other' ? 'redacted' : ''}" style=${{ gridColumn: `${left + 1} / ${right + 2}` }}
            data-testid="sms" data-from=${m.from} data-to=${m.to} data-kind=${m.kind} data-fate=${m.fate} data-seq=${m.seq}>
          <div class="meta">${rightward ? '' : '◀ '}${lanes[from]?.label ?? m.from} → ${lanes[to]?.label ?? m.to}${rightward ? ' ▶' : ''} · ${m.kind} · ${clockTime(m.at, zone)}${m.carrier ? ` · carrier ${m.carrier}` : ''} · <span class="fate">${m.fate}</span></div>
          <div class="text">${m.text}</div>
        </div>`;
      })}
    </div>
  <//>`;
}

const SMS_FIELDS = ['from', 'to', 'text'];

export function SmsSender({ numbers, refresh }) {
  const { busy, errors, run } = useControl(refresh);
  const [form, setForm] = useState({ from: numbers.admin, to: numbers.vDevice, text: 'PING' });
  const parties = lanesOf(numbers);
  const set = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const submit = async (e) => {
    e.preventDefault();
    await run('/control/sms', form);
  };
  const select = (name) => html`<select name=${name} value=${form[name]} onChange=${set(name)} data-testid="sms-${name}">
    ${parties.map((p) => html`<option value=${p.number}>${p.label} (${p.number})</option>`)}
  </select>`;
  return html`<${Card} title="Send an SMS" testid="sms-sender">
    <form class="inline-form" onSubmit=${submit}>
      <label>from ${select('from')}<span class="field-error">${errorFor(errors, 'from') ?? ''}</span></label>
      <label>to ${select('to')}<span class="field-error">${errorFor(errors, 'to') ?? ''}</span></label>
      <label class="grow">text <input name="text" value=${form.text} onInput=${set('text')} data-testid="sms-text" /><span class="field-error">${errorFor(errors, 'text') ?? ''}</span></label>
      <button type="submit" disabled=${busy} data-testid="sms-send">Send</button>
    </form>
    <p class="muted small">PING or TIME from the administrator to the V-Device; CC:VERIFY_COLD_ADDRESSES:0:BTC: from the V-Device to a SIM asks HSM-Cold for a batch signature.</p>
    ${otherErrors(errors, SMS_FIELDS).map((m) => html`<p class="error-text">${m}</p>`)}
  <//>`;
}
