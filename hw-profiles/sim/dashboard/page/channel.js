// The SMS channel between HSM-Cold and the V-Device: the current and previous channels, the
// rotation window on a 24-hour ring in the world's time zone, and the next rotation.
import { Badge, Card, Fields, html } from './ui.js';
import { DayRing } from './charts.js';
import { minuteOfDay, time } from './format.js';

function at(ms, zone) {
  return ms === undefined || ms === null ? '—' : time(new Date(ms).toISOString(), zone);
}

function channelRows(channel, zone, prefix) {
  if (channel === null) return [['channel', 'none', `${prefix}-cid`]];
  return [
    ['cId', channel.cId, `${prefix}-cid`],
    ['status', html`<${Badge} tone=${channel.status === 'open' ? 'ok' : channel.status === 'pending' ? 'warn' : 'idle'} testid="${prefix}-status">${channel.status}<//>`],
    ['H_ID', channel.hId],
    ['opened', at(channel.openedAt, zone)],
    channel.expiresAt ? ['expires', at(channel.expiresAt, zone)] : null,
    channel.retiredAt ? ['retired', at(channel.retiredAt, zone)] : null,
    channel.closedAt ? ['closed', `${at(channel.closedAt, zone)} ${channel.closeReason ?? ''}`] : null,
  ];
}

export function ChannelCard({ view }) {
  const ch = view.channel;
  const zone = ch.ring.timeZone;
  return html`<${Card} title="SMS channel" testid="channel">
    <div class="channel-layout">
      <${DayRing} ring=${ch.ring} open=${ch.window?.open === true} />
      <div>
        <h3>Current</h3>
        <${Fields} rows=${channelRows(ch.current, zone, 'channel-current')} />
      </div>
    </div>
    <p class="muted small">${zone}: window ${minuteOfDay(ch.ring.from)}–${minuteOfDay(ch.ring.to)}; the V-Device asks at ${minuteOfDay(ch.ring.vDeviceAt)} (orange dot)</p>
    <div class="channel-columns">
      <div>
        <h3>Previous</h3>
        <${Fields} rows=${channelRows(ch.previous, zone, 'channel-previous')} />
      </div>
      ${ch.pending ? html`<div><h3>Pending</h3><${Fields} rows=${channelRows(ch.pending, zone, 'channel-pending')} /></div>` : null}
    </div>
    <${Fields}
      rows=${[
        ['window', ch.window === null ? 'unknown (HSM-Cold is not running)' : html`<${Badge} tone=${ch.window.open ? 'ok' : 'idle'} testid="window-state">${ch.window.open ? 'open' : 'closed'}<//> <small>${ch.window.reason}</small>`],
        ['next window', html`<span data-testid="next-window" data-iso=${ch.nextWindow}>${time(ch.nextWindow, zone)}</span>`],
        ['next rotation', html`<span data-testid="next-rotation" data-iso=${ch.nextRotation}>${time(ch.nextRotation, zone)}</span>`],
        ['V-Device channel', ch.vDeviceChannel ?? 'none', 'vdevice-channel'],
      ]}
    />
  <//>`;
}
