/**
 * The first thing a newcomer wonders about: is the SMS channel between HSM-Cold and the
 * V-Device open, and if not, when can it open? HSM-Cold accepts a new channel only in its
 * nightly rotation window (world-config.ts `ROTATION`, 23:00-04:00 Asia/Shanghai), except the
 * very first one after provisioning, which may open at any time.
 *
 *   const summary = channelSummary(channelStatus, clock.now(), { newWorld: true });
 *   summary.window.open        // false
 *   summary.window.opensAt     // '2026-03-10T15:00:00.000Z' (23:00 in Shanghai)
 *   channelLines(summary, now) // ['channel      none yet: ...', 'window       ...']
 * @module
 */
import { formatTimeOfDay, isInDailyWindow, nextDailyOccurrence, parseTimeOfDay, zonedParts } from '../../shared/time-zone.ts';
import { ROTATION, WORLD_TIME_ZONE } from './world-config.ts';

export interface ChannelSummary {
  /** `open`, `pending` (HSM-Cold answered, the V-Device has not confirmed), `none`, or `unknown` (HSM-Cold did not say). */
  state: 'open' | 'pending' | 'none' | 'unknown';
  cId: number | null;
  /** A world that has never had a channel: its first one may open at any time. */
  firstChannelAnytime: boolean;
  /** The daily window in which HSM-Cold accepts a new channel (a rotation). */
  window: { from: string; to: string; timeZone: string; open: boolean; opensAt: string | null; closesAt: string | null };
}

/** HSM-Hot's `channel_status` answer (or undefined when it gave none), summarised at world time `now`. */
export function channelSummary(status: unknown, now: number, world: { newWorld: boolean }): ChannelSummary {
  const from = parseTimeOfDay(ROTATION.from);
  const to = parseTimeOfDay(ROTATION.to);
  const open = isInDailyWindow(now, { from, to }, WORLD_TIME_ZONE);
  const window = {
    from: ROTATION.from,
    to: ROTATION.to,
    timeZone: WORLD_TIME_ZONE,
    open,
    opensAt: open ? null : new Date(nextDailyOccurrence(now, from, WORLD_TIME_ZONE)).toISOString(),
    closesAt: open ? new Date(nextDailyOccurrence(now, to, WORLD_TIME_ZONE)).toISOString() : null,
  };
  const data = (typeof status === 'object' && status !== null ? status : {}) as { channel?: { cId?: unknown } | null; pending_channel?: { cId?: unknown } | null };
  const cIdOf = (channel: { cId?: unknown } | null | undefined): number | null => (typeof channel?.cId === 'number' ? channel.cId : null);
  let state: ChannelSummary['state'] = 'unknown';
  if (cIdOf(data.channel) !== null) state = 'open';
  else if (cIdOf(data.pending_channel) !== null) state = 'pending';
  else if ('channel' in data) state = 'none';
  const cId = state === 'open' ? cIdOf(data.channel) : state === 'pending' ? cIdOf(data.pending_channel) : null;
  return { state, cId, firstChannelAnytime: world.newWorld && state !== 'open', window };
}

/** The summary as two lines of `hsm sim`'s first screen. */
export function channelLines(summary: ChannelSummary, now: number): string[] {
  const { window } = summary;
  const label = `${window.from}-${window.to} ${window.timeZone}`;
  const state = {
    open: `open (c_id ${summary.cId})`,
    pending: `opening (c_id ${summary.cId}): HSM-Cold answered, waiting for the V-Device to confirm over SMS`,
    none: summary.firstChannelAnytime
      ? 'none yet: the V-Device is asking for its first one over SMS now (a first channel may open at any time)'
      : `none open: the V-Device asks for one in the next window`,
    unknown: 'not known yet (HSM-Cold has not answered); GET /status on the control server tells',
  }[summary.state];
  const when = window.open
    ? `open now, until ${localTime(window.closesAt as string)} (${window.timeZone})`
    : `opens at ${localTime(window.opensAt as string)} ${window.timeZone} (in ${duration(Date.parse(window.opensAt as string) - now)} of world time)`;
  return [`  channel      ${state}`, `  window       new channels ${label}: ${when}`];
}

function localTime(iso: string): string {
  const parts = zonedParts(Date.parse(iso), WORLD_TIME_ZONE);
  return formatTimeOfDay({ hour: parts.hour, minute: parts.minute });
}

function duration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  return hours === 0 ? `${minutes} min` : `${hours} h ${minutes % 60} min`;
}
