// Each device's audit log: the tail, and whether the whole hash chain and its signed
// checkpoints verify (shared/store/audit.ts, run where the device runs).
import { Badge, Card, html } from './ui.js';
import { clockTime, short, shortenHex, time } from './format.js';

function details(d) {
  return Object.entries(d ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

function when(at, zone) {
  const iso = new Date(at).toISOString();
  return html`<span title=${time(iso, zone)}>${clockTime(iso, zone)}</span>`;
}

export function AuditCard({ name, role, audit, zone }) {
  if (audit === null || audit === undefined) {
    return html`<${Card} title="${name} audit log" testid="audit-${role}"><p class="muted">Not available while the device is not running.</p><//>`;
  }
  const v = audit.verification;
  return html`<${Card} title="${name} audit log" testid="audit-${role}">
    <div class="state-line">
      <${Badge} tone=${v.ok ? 'ok' : 'bad'} testid="audit-${role}-verified">${v.ok ? 'chain verified' : 'PROBLEMS FOUND'}<//>
      <span class="muted">${v.entries} entries checked${audit.head.seq > v.lastSeq ? ` (up to ${v.lastSeq})` : ''} · ${v.checkpoints} signed checkpoints (last at ${v.lastCheckpointSeq ?? '—'}, ${v.uncoveredEntries} entries after it) · head ${audit.head.seq} ${short(audit.head.hash, 6)}</span>
    </div>
    ${v.problems.map((p) => html`<p class="error-text">${p.code}: ${p.message}</p>`)}
    <table class="compact audit">
      <thead><tr><th>seq</th><th>time</th><th>kind</th><th>details</th></tr></thead>
      <tbody>
        ${[...audit.tail].reverse().map((e) => html`<tr><td>${e.seq}</td><td>${when(e.at, zone)}</td><td><code>${e.kind}</code></td><td class="details">${shortenHex(details(e.details))}</td></tr>`)}
      </tbody>
    </table>
  <//>`;
}
