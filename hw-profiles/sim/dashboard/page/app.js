// The dashboard of the simulated world: one page, served by the rig's control server. It polls
// GET /dashboard/view (the state of every part) and follows GET /events (what happened), and
// pulls the control API's levers (advance time, faults, withdrawals, SMS).
import { Card, html, render, useControl, useEffect, useRef, useState } from './ui.js';
import { fetchView, errorFor } from './api.js';
import { EventStream } from './stream.js';
import { DeviceCard, LinkCard } from './devices.js';
import { ChannelCard } from './channel.js';
import { Conversation, GsmCard, SmsSender } from './gsm.js';
import { BatchTable, WithdrawalForm, WithdrawalTable } from './withdrawals.js';
import { AuditCard } from './audit.js';
import { StoryCard } from './story.js';
import { time } from './format.js';

const POLL_MS = 1000;
const THROUGHPUT_SAMPLES = 60;
const TABS = [
  ['overview', 'Overview'],
  ['gsm', 'GSM & SMS'],
  ['withdrawals', 'Withdrawals'],
  ['audit', 'Audit'],
  ['events', 'Events'],
];

const stream = new EventStream('/events');

function useHashTab() {
  const read = () => {
    const tab = location.hash.replace(/^#/, '');
    return TABS.some(([key]) => key === tab) ? tab : 'overview';
  };
  const [tab, setTab] = useState(read);
  useEffect(() => {
    const on = () => setTab(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return tab;
}

/** The world's view, polled, and fetched again soon after any event. */
function useWorld() {
  const [view, setView] = useState(null);
  const [reachable, setReachable] = useState(true);
  const [events, setEvents] = useState({ list: [], status: stream.status, lastSeq: 0, connects: 0, stopped: false });
  const throughput = useRef({ samples: [], last: null });
  const timer = useRef(null);
  const refresh = useRef(() => undefined);

  useEffect(() => {
    let alive = true;
    const poll = async () => {
      clearTimeout(timer.current);
      try {
        const next = await fetchView();
        if (!alive) return;
        sample(throughput.current, next);
        setView(next);
        setReachable(true);
      } catch {
        if (alive) setReachable(false);
      }
      if (alive) timer.current = setTimeout(poll, POLL_MS);
    };
    let soon = null;
    refresh.current = () => {
      clearTimeout(soon);
      soon = setTimeout(poll, 150);
    };
    const unsubscribe = stream.subscribe((s) => {
      setEvents({ list: s.events.slice(), status: s.status, lastSeq: s.lastSeq, connects: s.connects, stopped: s.rigStopped });
      refresh.current();
    });
    stream.start();
    void poll();
    return () => {
      alive = false;
      unsubscribe();
      clearTimeout(timer.current);
    };
  }, []);
  return { view, reachable, events, throughput: throughput.current.samples, refresh: () => refresh.current() };
}

/** Bytes per (real) second on the wire at HSM-Hot's end, from the counters' growth between polls. */
function sample(state, view) {
  const link = view.devices.hot?.link;
  const bytes = link ? link.bytesSent + link.bytesReceived : null;
  const now = performance.now();
  if (bytes !== null && state.last !== null && now > state.last.at) {
    const rate = Math.max(0, ((bytes - state.last.bytes) * 1000) / (now - state.last.at));
    state.samples = [...state.samples, rate].slice(-THROUGHPUT_SAMPLES);
  }
  state.last = bytes === null ? null : { bytes, at: now };
}

function WorldTime({ view, refresh }) {
  const { busy, errors, run, runs } = useControl(refresh);
  const [instant, setInstant] = useState('');
  const zone = view.channel.ring.timeZone;
  const advance = (body) => run('/control/advance', body);
  const go = (e) => {
    e.preventDefault();
    void advance({ to: instant });
  };
  const scale = view.timeScale === 'manual' ? 'manual (moves only when advanced)' : `×${view.timeScale}`;
  return html`<div class="world-time" data-testid="world-time" data-runs=${runs}>
    <div>
      <div class="clock" data-testid="world-clock" data-iso=${view.worldTime}>${time(view.worldTime, zone)}</div>
      <small>${zone} · ${time(view.worldTime, 'UTC')} UTC · time scale ${scale}</small>
    </div>
    <div class="advance">
      <button disabled=${busy} data-testid="advance-hour" onClick=${() => advance({ ms: 3600000 })}>+1 h</button>
      <button disabled=${busy} data-testid="advance-window" title=${time(view.channel.nextWindow, zone)} onClick=${() => advance({ to: view.channel.nextWindow })}>to the next window</button>
      <button disabled=${busy} data-testid="advance-rotation" title=${time(view.channel.nextRotation, zone)} onClick=${() => advance({ to: view.channel.nextRotation })}>to the next rotation</button>
      <form onSubmit=${go} class="instant">
        <input name="to" placeholder="2026-03-11T23:30:00+08:00" value=${instant} onInput=${(e) => setInstant(e.currentTarget.value)} data-testid="advance-to" />
        <button type="submit" disabled=${busy} data-testid="advance-go">go</button>
        <span class="field-error" data-testid="error-to">${errorFor(errors, 'to') ?? errorFor(errors, 'ms') ?? errors.map((e) => e.message).join('; ')}</span>
      </form>
      ${busy ? html`<span class="muted">advancing…</span>` : null}
    </div>
  </div>`;
}

function Banner({ reachable, events, view }) {
  if (events.stopped || view?.stopping) return html`<div class="banner stopped" data-testid="rig-stopped">The simulation has stopped. Start it again with <code>npm start</code> (or <code>hsm sim</code>).</div>`;
  if (!reachable || events.status === 'reconnecting') return html`<div class="banner lost" data-testid="rig-lost">Connection to the simulation lost; trying again…</div>`;
  return null;
}

function EventLog({ events }) {
  const [filter, setFilter] = useState('');
  const list = events.list.filter((e) => filter === '' || e.type.includes(filter)).slice(-300).reverse();
  return html`<${Card} title="Event stream" testid="events" wide=${true}>
    <input class="filter" placeholder="filter by type (sms, channel, withdrawal…)" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} />
    <table class="compact events">
      <tbody>
        ${list.map((e) => {
          const { seq, at, type, ...rest } = e;
          return html`<tr><td>${seq}</td><td>${time(at, 'UTC')}</td><td><code>${type}</code></td><td class="details">${JSON.stringify(rest)}</td></tr>`;
        })}
      </tbody>
    </table>
  <//>`;
}

function Tabs({ tab }) {
  return html`<nav class="tabs">${TABS.map(([key, label]) => html`<a href="#${key}" class=${tab === key ? 'active' : ''} data-testid="tab-${key}">${label}</a>`)}</nav>`;
}

function App() {
  const tab = useHashTab();
  const { view, reachable, events, throughput, refresh } = useWorld();
  const streamStatus = html`<footer data-testid="stream-status" data-status=${events.status} data-last-seq=${events.lastSeq} data-connects=${events.connects} data-count=${events.list.length}>
    events: ${events.status} · ${events.list.length} received, last #${events.lastSeq}${events.connects > 1 ? ` · resumed ${events.connects - 1}×` : ''}
  </footer>`;
  if (view === null) return html`<${Banner} reachable=${reachable} events=${events} view=${view} /><p class="loading">Connecting to the simulation…</p>${streamStatus}`;
  const zone = view.channel.ring.timeZone;
  const killable = view.link.killable;
  return html`
    <header class="top">
      <h1>HSM simulation<br /><small>${view.processes ? 'devices in separate processes' : 'devices in one process'}</small></h1>
      <${WorldTime} view=${view} refresh=${refresh} />
    </header>
    <${Banner} reachable=${reachable} events=${events} view=${view} />
    <${Tabs} tab=${tab} />
    <main class="grid view-${tab}" data-testid="view-${tab}">
      ${tab === 'overview'
        ? html`
            <div class="stack">
              <${DeviceCard} name="HSM-Hot" role="hot" view=${view.devices.hot} zone=${zone} killable=${killable} refresh=${refresh} />
              <${DeviceCard} name="HSM-Cold" role="cold" view=${view.devices.cold} zone=${zone} killable=${killable} refresh=${refresh} />
            </div>
            <div class="stack">
              <${LinkCard} view=${view} throughput=${throughput} refresh=${refresh} />
              <${StoryCard} events=${events.list} view=${view} />
            </div>
            <${ChannelCard} view=${view} />
            <${Card} title="Latest withdrawals" testid="latest-withdrawals" wide=${true}><${WithdrawalTable} rows=${view.withdrawals} zone=${zone} limit=${4} /><//>`
        : null}
      ${tab === 'gsm'
        ? html`
            <${GsmCard} view=${view} refresh=${refresh} />
            <${SmsSender} numbers=${view.gsm.numbers} refresh=${refresh} />
            <${Conversation} events=${events.list} numbers=${view.gsm.numbers} zone=${zone} />`
        : null}
      ${tab === 'withdrawals'
        ? html`
            <${WithdrawalForm} refresh=${refresh} />
            <${Card} title="Address batches" testid="batch-card"><${BatchTable} batches=${view.batches} /><//>
            <${Card} title="Withdrawals" testid="withdrawal-card" wide=${true}><${WithdrawalTable} rows=${view.withdrawals} zone=${zone} /><//>`
        : null}
      ${tab === 'audit'
        ? html`
            <${AuditCard} name="HSM-Hot" role="hot" audit=${view.devices.hot?.audit} zone=${zone} />
            <${AuditCard} name="HSM-Cold" role="cold" audit=${view.devices.cold?.audit} zone=${zone} />`
        : null}
      ${tab === 'events' ? html`<${EventLog} events=${events} />` : null}
    </main>
    ${streamStatus}
  `;
}

render(html`<${App} />`, document.getElementById('app'));
