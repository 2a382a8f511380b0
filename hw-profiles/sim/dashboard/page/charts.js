// Two small SVG pictures: a sparkline of the link's throughput and the 24-hour ring of the
// channel's rotation window. Plain SVG, no chart library: a polyline and a few arcs.
import { html } from './ui.js';
import { minuteOfDay } from './format.js';

/** A line over the last samples (numbers), scaled to its own maximum. */
export function Sparkline({ samples, width = 300, height = 60, label }) {
  const max = Math.max(1, ...samples);
  const step = samples.length > 1 ? width / (samples.length - 1) : width;
  const points = samples.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 6)).toFixed(1)}`).join(' ');
  return html`<svg class="sparkline" viewBox="0 0 ${width} ${height}" width=${width} height=${height} role="img" aria-label=${label}>
    <line x1="0" y1=${height - 1} x2=${width} y2=${height - 1} class="axis" />
    ${samples.length > 1 ? html`<polyline points=${points} class="line" />` : null}
    <text x="4" y="12" class="scale">${Math.round(max)} B/s</text>
  </svg>`;
}

const TAU = Math.PI * 2;

/** The point at `minute` of the day on a circle of radius r (midnight at the top, clockwise). */
function at(minute, r, c) {
  const angle = (minute / 1440) * TAU - Math.PI / 2;
  return [c + r * Math.cos(angle), c + r * Math.sin(angle)];
}

function arc(from, to, r, c) {
  const span = (to - from + 1440) % 1440;
  const [x1, y1] = at(from, r, c);
  const [x2, y2] = at(to, r, c);
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 ${span > 720 ? 1 : 0} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

/** The day as a clock face in the world's time zone: the rotation window, the V-Device's hour, now. */
export function DayRing({ ring, open }) {
  const size = 170;
  const c = size / 2;
  const r = 64;
  const [nx, ny] = at(ring.now, r - 14, c);
  const [vx, vy] = at(ring.vDeviceAt, r, c);
  const hours = [0, 3, 6, 9, 12, 15, 18, 21];
  return html`<svg class="day-ring" viewBox="0 0 ${size} ${size}" width=${size} height=${size} role="img" aria-label="24-hour ring in ${ring.timeZone}" data-testid="day-ring">
    <circle cx=${c} cy=${c} r=${r} class="ring-track" />
    <path d=${arc(ring.from, ring.to, r, c)} class=${open ? 'ring-window open' : 'ring-window'} />
    ${hours.map((h) => {
      const [x, y] = at(h * 60, r + 14, c);
      return html`<text x=${x} y=${y + 4} class="ring-hour">${String(h).padStart(2, '0')}</text>`;
    })}
    <circle cx=${vx} cy=${vy} r="5" class="ring-vdevice"><title>V-Device asks at ${minuteOfDay(ring.vDeviceAt)}</title></circle>
    <line x1=${c} y1=${c} x2=${nx} y2=${ny} class="ring-now" />
    <circle cx=${c} cy=${c} r="3" class="ring-hub" />
    <text x=${c} y=${c + 26} class="ring-time">${minuteOfDay(ring.now)}</text>
  </svg>`;
}
