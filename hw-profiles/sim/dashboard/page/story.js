// The demo story (hsm demo) as a checklist a newcomer can follow on this page: each step is
// ticked from what the world did (the event stream and the view), with where to make it happen.
import { Card, html } from './ui.js';

/** @param {{events: Array<Record<string, unknown>>, view: Record<string, any>}} world */
function steps({ events, view }) {
  const seen = (test) => events.some(test);
  const { coldSim2, admin } = view.gsm.numbers;
  const batches = view.batches.filter((b) => b.batchNo === 0);
  const audits = [view.devices.hot?.audit, view.devices.cold?.audit];
  return [
    ['The channel opens over SMS', seen((e) => e.type === 'cold.channel.opened'), 'the V-Device asks HSM-Cold for a channel by itself (GSM & SMS shows the exchange)'],
    ['Address batch 0 of both wallets is checked', batches.length >= 2 && batches.every((b) => b.state === 'passed'), 'the V-Device checks the batches vweb hands it (Withdrawals)'],
    ['A withdrawal is approved, signed, broadcast and confirmed', view.withdrawals.some((w) => w.status === 'confirmed'), 'Withdrawals → Queue on vweb, then let time run (+1 h)'],
    ["The administrator's PING is answered", seen((e) => e.type === 'sms.delivered' && e.to === admin && e.text === 'ping is ok'), 'GSM & SMS → send CC:PING from the administrator to the V-Device'],
    ['The nightly rotation brings a new channel', seen((e) => e.type === 'cold.channel.retired'), '"to the next rotation" in the bar above'],
    ['A forged vc_code closes the channel and alerts the administrator', seen((e) => e.type === 'cold.channel.closed'), 'hsm demo forges one; the alert shows in the conversation, and only the operator reopens the window (HSM-Cold console: channel open-window)'],
    ["Carrier A is down and HSM-Cold's SMS leave on SIM2", seen((e) => e.type === 'network.carrier' && e.up === false) && seen((e) => e.type === 'sms.sent' && e.from === coldSim2), 'GSM & SMS → outage on carrier A, then an SMS HSM-Cold answers (the app itself sends to SIM1 only, so its own requests wait for carrier A)'],
    ["Both devices' audit chains verify", audits.every((a) => a?.verification.ok === true), 'Audit'],
  ];
}

export function StoryCard({ events, view }) {
  return html`<${Card} title="The demo story" testid="story">
    <ol class="story">
      ${steps({ events, view }).map(
        ([title, done, how]) => html`<li class=${done ? 'done' : ''} data-done=${done}>
          <span class="tick">${done ? '✓' : '○'}</span>
          <div><strong>${title}</strong><br /><small class="muted">${how}</small></div>
        </li>`,
      )}
    </ol>
  <//>`;
}
