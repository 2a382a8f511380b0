// How the dashboard writes times, durations, amounts and identifiers.

export function time(iso, timeZone) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  // Swedish order is ISO's: 2026-03-10 15:00:45.
  return date.toLocaleString('sv-SE', { timeZone: timeZone ?? 'UTC', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function clockTime(iso, timeZone) {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString('en-GB', { timeZone: timeZone ?? 'UTC', hour12: false });
}

export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

export function sats(value) {
  if (value === null || value === undefined) return '—';
  const n = BigInt(value);
  const whole = n / 100000000n;
  const frac = (n % 100000000n).toString().padStart(8, '0');
  return `${whole}.${frac} BTC`;
}

export function short(text, keep = 6) {
  if (typeof text !== 'string') return '—';
  return text.length <= keep * 2 + 1 ? text : `${text.slice(0, keep)}…${text.slice(-keep)}`;
}

/** Long hex strings (hashes, keys, txids) shortened to their ends, as the consoles show them. */
export function shortenHex(text) {
  return text.replace(/[0-9A-Fa-f]{20,}/g, (m) => short(m, 6));
}

export function minuteOfDay(minutes) {
  const h = Math.floor(minutes / 60) % 24;
  const m = minutes % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

export function rate(value) {
  if (!value) return 'off';
  return value.toExponential(0);
}
