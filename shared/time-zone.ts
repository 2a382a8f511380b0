/**
 * Local time in a named IANA time zone, without a time-zone library: `Intl.DateTimeFormat`
 * gives the wall-clock fields of an instant, and the inverse is found by correcting the UTC
 * guess with the zone's offset (twice, so a DST change between guess and answer is handled).
 *
 * Used for the rotation window ("23:00-02:00 local") and daily schedules (DESIGN.md, rule 2).
 * @module
 */
import { HsmError } from './errors.ts';

export interface ZonedParts {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
  hour: number; // 0..23
  minute: number;
  second: number;
}

/** A time of day, `HH:MM` on a 24-hour clock. */
export interface TimeOfDay {
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (cause) {
      throw new HsmError('BAD_TIME_ZONE', `unknown time zone "${timeZone}" (expected an IANA name such as "Asia/Shanghai" or "UTC")`, {
        field: 'timeZone',
        cause,
      });
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws BAD_TIME_ZONE unless `timeZone` is a zone this runtime knows. */
export function assertTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

export function zonedParts(epochMs: number, timeZone: string): ZonedParts {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(epochMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Offset of local time from UTC at `epochMs`, in milliseconds (UTC+8 gives +28 800 000). */
export function zoneOffsetMs(epochMs: number, timeZone: string): number {
  const p = zonedParts(epochMs, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (epochMs - (((epochMs % 1000) + 1000) % 1000));
}

/**
 * The instant at which the local clock in `timeZone` shows `parts`. A local time skipped by a
 * DST jump is pushed forward by the gap; a repeated one resolves to its first occurrence.
 */
export function zonedToEpoch(parts: Omit<ZonedParts, 'second'> & { second?: number }, timeZone: string): number {
  const guess = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second ?? 0);
  const first = guess - zoneOffsetMs(guess, timeZone);
  const second = guess - zoneOffsetMs(first, timeZone);
  if (first === second) return first;
  // The offset changes near this instant. Prefer a candidate that really shows the requested
  // local time (the earlier one when the hour repeats); in a DST gap neither does, and the
  // later candidate moves the time forward by the length of the gap (02:30 → 03:30), as
  // Temporal's "compatible" disambiguation does.
  const showsRequested = (t: number): boolean => {
    const p = zonedParts(t, timeZone);
    return p.hour === parts.hour && p.minute === parts.minute;
  };
  const matching = [first, second].filter(showsRequested);
  return matching.length > 0 ? Math.min(...matching) : Math.max(first, second);
}

export function parseTimeOfDay(text: string, field = 'time'): TimeOfDay {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (match === null) {
    throw new HsmError('BAD_TIME_OF_DAY', `${field} must be HH:MM on a 24-hour clock, got "${text}"`, { field });
  }
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

export function formatTimeOfDay(t: TimeOfDay): string {
  return `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`;
}

/** Minutes since local midnight at `epochMs` (0..1439). */
export function localMinuteOfDay(epochMs: number, timeZone: string): number {
  const p = zonedParts(epochMs, timeZone);
  return p.hour * 60 + p.minute;
}

/**
 * Whether local time at `epochMs` lies in the daily window [from, to). A window whose end is
 * not after its start wraps past midnight (23:00-02:00 covers 23:00..01:59).
 */
export function isInDailyWindow(epochMs: number, window: { from: TimeOfDay; to: TimeOfDay }, timeZone: string): boolean {
  const now = localMinuteOfDay(epochMs, timeZone);
  const from = window.from.hour * 60 + window.from.minute;
  const to = window.to.hour * 60 + window.to.minute;
  if (from === to) return true; // a full-day window
  return from < to ? now >= from && now < to : now >= from || now < to;
}

/** The first instant strictly after `afterMs` at which local time in `timeZone` is `at`. */
export function nextDailyOccurrence(afterMs: number, at: TimeOfDay, timeZone: string): number {
  const today = zonedParts(afterMs, timeZone);
  for (let dayOffset = 0; dayOffset < 3; dayOffset++) {
    // Date.UTC normalises day overflow (Jan 32 → Feb 1), so calendar arithmetic stays simple.
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + dayOffset));
    const candidate = zonedToEpoch(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: at.hour, minute: at.minute },
      timeZone,
    );
    if (candidate > afterMs) return candidate;
  }
  throw new Error('invariant failed: no daily occurrence within three days');
}
