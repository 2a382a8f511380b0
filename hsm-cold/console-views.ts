/**
 * What HSM-Cold's console shows of its records, read from the store and redacted for a screen:
 * phone numbers masked to their last digits, channel keys and signatures in SMS texts shortened
 * to their ends, texts cut to one line. Nothing here writes.
 * @module
 */
import { maskPhoneNumber, sanitizeInline, shorten } from '../shared/console/format.ts';
import { GSM_INBOX, GSM_OUTBOX } from '../shared/gsm/modem-pool.ts';
import type { ReadView } from '../shared/store/store.ts';
import { COLD_RECORDS, type ApprovalRecord } from './records.ts';

const LONG_HEX = /[0-9A-Fa-f]{20,}/g;
const LONG_BASE64 = /[A-Za-z0-9+/]{40,}={0,2}/g;

/** An SMS text for the screen: keys (CC:QH, CC:QC) and signatures shortened, one line. */
export function redactSmsText(text: string, maxLength = 90): string {
  const shortened = text.replace(LONG_HEX, (m) => shorten(m)).replace(LONG_BASE64, (m) => shorten(m));
  return sanitizeInline(shortened, maxLength);
}

export interface SmsLine {
  at: number;
  direction: 'in' | 'out';
  number: string;
  /** Inbound: the modem it came through and whether it was handled; outbound: its state. */
  state: string;
  text: string;
}

/** The last `limit` SMS in and out, newest first, redacted. */
export function recentSms(view: ReadView, limit: number): SmsLine[] {
  const lines: SmsLine[] = [];
  for (const { value } of view.range(GSM_INBOX, { reverse: true, limit })) {
    lines.push({
      at: value.receivedAt,
      direction: 'in',
      number: maskPhoneNumber(value.from),
      state: `${value.via}${value.handled ? '' : ' (pending)'}`,
      text: value.kind === 'sms' ? redactSmsText(value.text) : `(undecodable: ${sanitizeInline(value.error ?? 'unknown', 40)})`,
    });
  }
  for (const { value } of view.range(GSM_OUTBOX, { reverse: true, limit })) {
    const via = value.sentVia === undefined ? '' : ` via ${value.sentVia}`;
    lines.push({
      at: value.sentAt ?? value.createdAt,
      direction: 'out',
      number: maskPhoneNumber(value.to),
      state: `${value.state}${via}${value.delivery === undefined ? '' : `, ${value.delivery}`}`,
      text: redactSmsText(value.text),
    });
  }
  return lines.sort((a, b) => b.at - a.at).slice(0, limit);
}

/** Approvals are keyed by user_tx_no; at most this many are scanned to find the latest. */
const MAX_APPROVALS_SCANNED = 20_000;

/** The last `limit` approvals by time, newest first (the record holds no vc_code). */
export function recentApprovals(view: ReadView, limit: number): ApprovalRecord[] {
  const all: ApprovalRecord[] = [];
  for (const { value } of view.range(COLD_RECORDS.approvals, { limit: MAX_APPROVALS_SCANNED })) all.push(value);
  return all.sort((a, b) => b.approvedAt - a.approvedAt).slice(0, limit);
}

export function recentRefusals(view: ReadView, limit: number): Array<{ at: number; userTxNo: string; code: string; message: string; cId: number }> {
  return [...view.range(COLD_RECORDS.refusals, { reverse: true, limit })].map((e) => e.value);
}

/** `+CREG` stat as words (27.007 §7.2). */
export function registrationText(stat: number): string {
  return (['not registered', 'home network', 'searching', 'denied', 'unknown', 'roaming'] as const)[stat] ?? 'not read yet';
}

/** `+CSQ` rssi as dBm (27.007 §8.5: 2·rssi − 113; 99 unknown). */
export function signalText(rssi: number): string {
  return rssi >= 0 && rssi <= 31 ? `${2 * rssi - 113} dBm (${rssi})` : 'unknown';
}
