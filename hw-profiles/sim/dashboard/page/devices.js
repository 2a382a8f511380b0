// The two HSMs (state, uptime, boot epoch, vault, store, clock, time trust) and the serial link
// between them (state, epochs, counters, throughput) with its fault levers.
import { Badge, Card, Fields, html, useControl } from './ui.js';
import { Sparkline } from './charts.js';
import { clockTime, duration, rate } from './format.js';

/** Sub-states that make a running device "degraded": its link down, its modems unusable, its channel closed. */
const TROUBLE = new Set(['down', 'degraded', 'closed', 'failed', 'attaching', 'stopped']);

function subStates(machine) {
  if (machine === null || typeof machine !== 'object') return [];
  return Object.values(machine).flatMap((v) => (typeof v === 'string' ? [v] : subStates(v)));
}

/** running (green), running with a part down (amber, "degraded"), locked or provisioning (amber), stopped (red). */
export function stateTone(view) {
  if (view === null) return ['bad', 'stopped'];
  if (view.state === 'running') return subStates(view.machine).some((s) => TROUBLE.has(s)) ? ['warn', 'running, degraded'] : ['ok', 'running'];
  if (['locked', 'provisioning', 'uninitialised', 'unpaired', 'starting', 'booting'].includes(view.state)) return ['warn', view.state];
  return ['bad', view.state];
}

function timeTrust(view) {
  if (view.timeTrust === null) return 'not tracked (HSM-Hot keeps the host clock)';
  const t = view.timeTrust;
  const samples = (t.samples ?? []).map((s) => `${s.source} ${s.offsetMs >= 0 ? '+' : ''}${(s.offsetMs / 1000).toFixed(1)} s`).join(', ');
  return html`<${Badge} tone=${t.trusted ? 'ok' : 'warn'} testid="time-trust">${t.trusted ? 'trusted' : 'not trusted'}<//> <small>${t.trusted ? samples : (t.reason ?? '')}</small>`;
}

export function DeviceCard({ name, role, view, zone, killable, refresh }) {
  const { busy, errors, run, runs } = useControl(refresh);
  const [tone, word] = stateTone(view);
  const kill = killable
    ? html`<button class="danger" disabled=${busy} data-testid="kill-${role}" data-runs=${runs} onClick=${() => run('/control/fault', { fault: 'kill', device: role })}>${busy ? 'restarting…' : 'Power cut'}</button>`
    : null;
  return html`<${Card} title=${name} testid="device-${role}" actions=${kill}>
    <div class="state-line">
      <${Badge} tone=${tone} testid="${role}-state">${word}<//>
      <code class="machine" data-testid="${role}-machine" data-machine=${view === null ? 'null' : JSON.stringify(view.machine)}>${view?.stateText ?? 'not running'}</code>
    </div>
    ${view === null
      ? html`<p class="muted">The device is not running.</p>`
      : html`<${Fields}
          rows=${[
            ['uptime', duration(view.uptimeMs), `${role}-uptime`],
            ['boot epoch', view.bootEpoch, `${role}-epoch`],
            ['vault', view.vault === null ? '—' : view.vault.attemptsLeft !== undefined && view.vault.state === 'locked' ? `${view.vault.state} (${view.vault.attemptsLeft} PIN attempts left)` : view.vault.state],
            ['store', `format ${view.store.format} · schema ${view.store.schema}`],
            ['clock', clockTime(view.clock, zone)],
            ['time trust', timeTrust(view)],
            view.requests ? ['requests', `${view.requests.pending} pending · ${view.requests.total} in all`] : null,
            view.lastError ? ['last error', html`<span class="error-text">${view.lastError.message} [${view.lastError.code}]</span>`] : null,
          ]}
        />`}
    ${errors.map((e) => html`<p class="error-text">${e.message}</p>`)}
  <//>`;
}

const LINK_ROWS = [
  ['state', (l) => l.state],
  ['epoch / peer', (l) => `${l.epoch} / ${l.peerEpoch ?? '—'}`],
  ['frames out / in', (l) => `${l.framesSent} / ${l.framesReceived}`],
  ['bytes out / in', (l) => `${l.bytesSent} / ${l.bytesReceived}`],
  ['retransmissions', (l) => l.retransmissions],
  ['CRC errors', (l) => l.crcFailures],
  ['auth failures', (l) => l.authFailures],
  ['link downs', (l) => l.linkDowns],
  ['RTT (smoothed)', (l) => (l.rttMs?.smoothed == null ? '—' : `${Math.round(l.rttMs.smoothed)} ms`)],
];

const NOISE_LEVELS = [0, 0.0001, 0.001, 0.01];

export function LinkCard({ view, throughput, refresh }) {
  const { busy, errors, run } = useControl(refresh);
  const hot = view.devices.hot?.link ?? null;
  const cold = view.devices.cold?.link ?? null;
  const up = hot?.state === 'up' && cold?.state === 'up';
  const noise = view.link.noise;
  return html`<${Card} title="Serial link" testid="link">
    <div class="state-line">
      <${Badge} tone=${up ? 'ok' : 'bad'} testid="link-state">${up ? 'up' : 'down'}<//>
      <span class="muted">session epoch ${hot?.epoch ?? '—'} (HSM-Hot) · ${cold?.epoch ?? '—'} (HSM-Cold)</span>
    </div>
    <table class="compact" data-testid="link-stats">
      <thead><tr><th></th><th>HSM-Hot end</th><th>HSM-Cold end</th></tr></thead>
      <tbody>
        ${LINK_ROWS.map(([label, read]) => html`<tr><th>${label}</th><td>${hot ? read(hot) : '—'}</td><td>${cold ? read(cold) : '—'}</td></tr>`)}
      </tbody>
    </table>
    <div class="chart">
      <span class="muted">bytes per second on the wire (both directions, HSM-Hot end)</span>
      <${Sparkline} samples=${throughput} label="link throughput" />
    </div>
    <div class="controls">
      <span>Noise (bit flips per byte):</span>
      ${NOISE_LEVELS.map(
        (level) =>
          html`<button class=${noise === level ? 'chip active' : 'chip'} disabled=${busy} data-testid="noise-${level}" onClick=${() => run('/control/fault', { fault: 'link-noise', bitFlipRate: level })}>${rate(level)}</button>`,
      )}
    </div>
    ${view.link.killable ? null : html`<p class="muted small">Power cuts need the devices in their own processes (hsm sim --processes).</p>`}
    ${errors.map((e) => html`<p class="error-text">${e.message}</p>`)}
  <//>`;
}
