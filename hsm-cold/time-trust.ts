/**
 * Whether HSM-Cold may trust its own clock. It has no network and, on a Raspberry Pi, no RTC;
 * the rotation window and the policy period depend on local time. Two independent sources are
 * sampled: the modems' network time (AT+CCLK / NITZ) and HSM-Hot's clock (over the link). The
 * clock is trusted while every recent sample agrees with it within `maxSkewSeconds`; otherwise
 * the rotation window does not open by itself and the administrators are alerted once.
 * @module
 */
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import { alertAdmins } from './alerts.ts';
import type { ColdConfig } from './config.ts';
import { COLD_RECORDS } from './records.ts';
import type { ColdServices } from './services.ts';

export const TIME_SOURCES = ['modem', 'hot'] as const;
export type TimeSource = (typeof TIME_SOURCES)[number];

export interface TimeTrust {
  trusted: boolean;
  /** Sources with a recent sample, and their offset from the local clock (ms). */
  samples: Array<{ source: TimeSource; offsetMs: number; ageMs: number }>;
  reason?: string;
}

/** Records what a source said the time was (Unix ms) at local time `now`. */
export function recordTimeSample(tx: WriteTx, source: TimeSource, value: number, now: number): void {
  tx.put(COLD_RECORDS.timeSamples, source, { offsetMs: value - now, at: now, value });
}

export function timeTrust(view: ReadView, config: ColdConfig, now: number): TimeTrust {
  const maxAge = config.time.sampleMaxAgeMinutes * 60_000;
  const maxSkew = config.time.maxSkewSeconds * 1000;
  const samples: TimeTrust['samples'] = [];
  for (const source of TIME_SOURCES) {
    const s = view.get(COLD_RECORDS.timeSamples, source);
    if (s !== undefined && now - s.at <= maxAge) samples.push({ source, offsetMs: s.offsetMs, ageMs: now - s.at });
  }
  if (samples.length === 0) return { trusted: false, samples, reason: 'no recent time from the modems or HSM-Hot' };
  const off = samples.find((s) => Math.abs(s.offsetMs) > maxSkew);
  if (off !== undefined) {
    return { trusted: false, samples, reason: `${off.source} time differs from the local clock by ${Math.round(off.offsetMs / 1000)} s` };
  }
  return { trusted: true, samples };
}

/**
 * Alerts the administrators once when the clock stops being trusted, and notes when it is
 * trusted again (called from the upkeep sweep). The alert state is kept in the store, so a
 * reboot does not repeat it.
 */
export function watchTimeTrust(svc: ColdServices, tx: WriteTx, now: number): TimeTrust {
  const trust = timeTrust(tx, svc.config, now);
  const alerted = tx.get(COLD_RECORDS.timeAlert, 'current')?.alerted ?? false;
  if (!trust.trusted && !alerted) {
    alertAdmins(svc, tx, 'TIME_UNTRUSTED', `clock not trusted (${trust.reason ?? 'unknown'}); new channels wait for an operator`);
    tx.put(COLD_RECORDS.timeAlert, 'current', { alerted: true, at: now });
  } else if (trust.trusted && alerted) {
    tx.put(COLD_RECORDS.timeAlert, 'current', { alerted: false, at: now });
    tx.audit('time.trusted-again', {});
  }
  return trust;
}
