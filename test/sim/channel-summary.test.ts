/**
 * The first screen's answer to "is the channel open, and when can it open?": the channel's
 * state from HSM-Hot's channel_status, and the rotation window (23:00-04:00 Asia/Shanghai)
 * open now or opening at its next start.
 */
import { describe, expect, it } from 'vitest';
import { channelLines, channelSummary } from '../../hw-profiles/sim/channel-summary.ts';

/** Shanghai is UTC+8 all year. */
const shanghai = (day: number, hour: number, minute = 0): number => Date.UTC(2026, 2, day, hour - 8, minute);

describe('the channel summary', () => {
  it('outside the window: when it opens, in Shanghai time and from now', () => {
    const now = shanghai(10, 15, 0);
    const summary = channelSummary({ link: 'up', channel: null, pending_channel: null }, now, { newWorld: false });
    expect(summary).toEqual({
      state: 'none',
      cId: null,
      firstChannelAnytime: false,
      window: { from: '23:00', to: '04:00', timeZone: 'Asia/Shanghai', open: false, opensAt: new Date(shanghai(10, 23)).toISOString(), closesAt: null },
    });
    expect(channelLines(summary, now)).toEqual([
      '  channel      none open: the V-Device asks for one in the next window',
      '  window       new channels 23:00-04:00 Asia/Shanghai: opens at 23:00 Asia/Shanghai (in 8 h 0 min of world time)',
    ]);
  });

  it('inside the window, past midnight: open now, until 04:00', () => {
    const now = shanghai(11, 0, 30);
    const summary = channelSummary({ channel: { cId: 7, status: 'open' }, pending_channel: null }, now, { newWorld: false });
    expect(summary).toMatchObject({ state: 'open', cId: 7, window: { open: true, opensAt: null, closesAt: new Date(shanghai(11, 4)).toISOString() } });
    expect(channelLines(summary, now)).toEqual(['  channel      open (c_id 7)', '  window       new channels 23:00-04:00 Asia/Shanghai: open now, until 04:00 (Asia/Shanghai)']);
  });

  it('a new world: the first channel may open at any time; a pending one waits for the V-Device; no answer is said so', () => {
    const now = shanghai(10, 15, 0);
    const first = channelSummary({ channel: null, pending_channel: null }, now, { newWorld: true });
    expect(first).toMatchObject({ state: 'none', firstChannelAnytime: true });
    expect(channelLines(first, now)[0]).toBe('  channel      none yet: the V-Device is asking for its first one over SMS now (a first channel may open at any time)');
    const pending = channelSummary({ channel: null, pending_channel: { cId: 1 } }, now, { newWorld: true });
    expect(pending).toMatchObject({ state: 'pending', cId: 1 });
    expect(channelLines(pending, now)[0]).toMatch(/^ {2}channel {6}opening \(c_id 1\): HSM-Cold answered, waiting for the V-Device/);
    expect(channelSummary(undefined, now, { newWorld: true })).toMatchObject({ state: 'unknown', cId: null });
    expect(channelSummary({ error: 'HOT_UNAVAILABLE' }, now, { newWorld: false }).state).toBe('unknown');
  });
});
