/**
 * What HSM-Hot's console shows of its records, read from the store and redacted for a screen:
 * tx requests without their vc_code, PSBT or raw transaction, HSM-Cold's last report and
 * event with long keys and signatures shortened, and the platform's registered keys (public
 * keys, not secret). Nothing here writes.
 * @module
 */
import { sanitizeInline, shorten } from '../shared/console/format.ts';
import { PING_OUTS } from '../shared/crypto/request-string.ts';
import type { ReadView } from '../shared/store/store.ts';
import { apiKeysCollection } from './api-keys.ts';
import { coldEventCollection, coldStatusCollection } from './cold-link.ts';
import { TX_STATUS, requestsCollection, type RequestRecord } from './requests.ts';

const LONG_HEX = /[0-9A-Fa-f]{20,}/g;
const LONG_BASE64 = /[A-Za-z0-9+/]{40,}={0,2}/g;

/** A text from HSM-Cold for the screen: keys and signatures shortened, one line. */
export function redactText(text: string, maxLength = 90): string {
  return sanitizeInline(text.replace(LONG_HEX, (m) => shorten(m)).replace(LONG_BASE64, (m) => shorten(m)), maxLength);
}

export function statusWord(status: RequestRecord['status']): string {
  return status === TX_STATUS.ok ? 'signed' : status === TX_STATUS.failed ? 'failed' : 'pending';
}

/** One request as the console lists it: no vc_code, no PSBT, no raw transaction. */
export interface RequestLine {
  no: number;
  requestedAt: number;
  userTxNo: string;
  coin: string;
  kind: 'ping' | 'spend';
  outputs: number;
  /** The total paid, in the coin's smallest unit (as the request's outs say). */
  amount: string | undefined;
  cId: number;
  status: string;
  settledAt: number | undefined;
  /** The txid once signed, the refusal's code once failed. */
  outcome: string | undefined;
}

function totalOf(outs: string): string | undefined {
  let total = 0n;
  for (const out of outs.split(';')) {
    const value = out.slice(out.lastIndexOf(',') + 1);
    if (!/^[0-9]{1,20}$/.test(value)) return undefined;
    total += BigInt(value);
  }
  return total.toString();
}

/** Requests are keyed by user_tx_no; at most this many are scanned to find the latest. */
const MAX_REQUESTS_SCANNED = 20_000;

export function recentRequests(view: ReadView, limit: number): RequestLine[] {
  const all: RequestRecord[] = [];
  for (const { value } of view.range(requestsCollection, { limit: MAX_REQUESTS_SCANNED })) all.push(value);
  return all
    .sort((a, b) => b.no - a.no)
    .slice(0, limit)
    .map((r) => ({
      no: r.no,
      requestedAt: r.requestedAt,
      userTxNo: sanitizeInline(r.userTxNo, 32),
      coin: r.coinCode,
      kind: r.outs === PING_OUTS ? 'ping' : 'spend',
      outputs: r.outs === PING_OUTS ? 0 : r.outs.split(';').length,
      amount: r.outs === PING_OUTS ? undefined : totalOf(r.outs),
      cId: r.cId,
      status: statusWord(r.status),
      settledAt: r.txAt,
      outcome: r.status === TX_STATUS.ok ? (r.txHash === undefined ? undefined : shorten(r.txHash, 8)) : r.status === TX_STATUS.failed ? r.failure?.code : undefined,
    }));
}

export type ColdReport = NonNullable<ReturnType<typeof coldReport>>;

/** HSM-Cold's last `cold.status` answer, as stored when it arrived. */
export function coldReport(view: ReadView) {
  return view.get(coldStatusCollection, 'latest');
}

/** HSM-Cold's last reported event, details redacted. */
export function lastColdEvent(view: ReadView): { kind: string; at: number; details: string } | undefined {
  const event = view.get(coldEventCollection, 'latest');
  if (event === undefined) return undefined;
  const details = Object.entries(event.details)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return { kind: event.kind, at: event.at, details: redactText(details, 100) };
}

export interface ApiKeyLine {
  key: string;
  label: string | undefined;
  scopes: string;
  registeredAt: number;
}

export function apiKeyList(view: ReadView): ApiKeyLine[] {
  return [...view.range(apiKeysCollection)].map(({ key, value }) => ({
    key: key as string,
    label: value.label === undefined ? undefined : sanitizeInline(value.label, 32),
    scopes: value.scopes.join(','),
    registeredAt: value.registeredAt,
  }));
}
