/**
 * The SMS channel with the V-Device (spec §"SMS messages"; chaincloud-v's channel records).
 *
 *   CC:QH:<QH>:H_ID:<hId>:  → a new channel key pair and a new, strictly increasing cId,
 *                             reply CC:QC:<QC>:C_ID:<cId>:H_ID:<hId>   (status pending)
 *   CC:CHANNEL_OK:<cId>:    → the pending channel opens; the previous one is retired
 *
 * New channels are accepted inside the daily rotation window (local time, and only while the
 * clock is trusted), while an operator holds the window open, or for the very first channel
 * when provisioning allowed it. A channel expires `maxAgeHours` after it opened; a pending one
 * not confirmed within `pendingMinutes` is dropped. A channel's private key is erased when it
 * is retired, expires or is closed.
 *
 * The app's CHANNEL_OK is not signed, and SMS sender numbers can be forged. Hardening within
 * the protocol: cIds grow by a random step (1..1000), so a forged CHANNEL_OK must guess the id;
 * wrong CHANNEL_OKs and a second channel request in one window alert the administrators; a
 * newer request supersedes a pending one.
 * @module
 */
import { formatColdMessage } from '../shared/chaincloud/sms.ts';
import { bytesToHex } from '../shared/crypto/hash.ts';
import { signMessage } from '../shared/crypto/message-signature.ts';
import { secp } from '../shared/crypto/secp.ts';
import { HsmError } from '../shared/errors.ts';
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import { formatTimeOfDay, isInDailyWindow, nextDailyOccurrence, parseTimeOfDay } from '../shared/time-zone.ts';
import { alertAdmins, maskNumber } from './alerts.ts';
import { COLD_RECORDS, SINGLETON, channelKeySecret, type ChannelRecord } from './records.ts';
import type { ColdServices } from './services.ts';
import { timeTrust } from './time-trust.ts';

const MAX_CID_STEP = 1000;
const MAX_OPERATOR_WINDOW_MINUTES = 12 * 60;

export type ChannelState = ReturnType<typeof channelState>;

function channelState(view: ReadView): { lastCId: number; operatorWindowUntil?: number; badChannelOks: number; windowRequests?: { windowStart: number; count: number } } {
  return view.get(COLD_RECORDS.channelState, SINGLETON) ?? { lastCId: 0, badChannelOks: 0 };
}

export function channelById(view: ReadView, cId: number): ChannelRecord | undefined {
  return view.get(COLD_RECORDS.channels, cId);
}

function channelsWith(view: ReadView, status: ChannelRecord['status']): ChannelRecord[] {
  return [...view.range(COLD_RECORDS.channels, { reverse: true })].map((e) => e.value).filter((c) => c.status === status);
}

/** The open channel (at most one is open at a time). */
export function currentChannel(view: ReadView): ChannelRecord | undefined {
  return channelsWith(view, 'open')[0];
}

export function pendingChannel(view: ReadView): ChannelRecord | undefined {
  return channelsWith(view, 'pending')[0];
}

export function recentChannels(view: ReadView, limit = 10): ChannelRecord[] {
  return [...view.range(COLD_RECORDS.channels, { reverse: true, limit })].map((e) => e.value);
}

export interface WindowState {
  open: boolean;
  reason: string;
  /** Start of the current rotation window (Unix ms), when inside it. */
  windowStart?: number;
}

export function windowState(svc: ColdServices, view: ReadView, now: number): WindowState {
  const state = channelState(view);
  if (state.operatorWindowUntil !== undefined && state.operatorWindowUntil > now) {
    return { open: true, reason: `opened by an operator until ${new Date(state.operatorWindowUntil).toISOString()}`, windowStart: now };
  }
  const device = view.get(COLD_RECORDS.device, SINGLETON);
  if (svc.config.rotation.firstChannelAnytime && device !== undefined && !device.hadChannel) {
    return { open: true, reason: 'the first channel after provisioning', windowStart: device.provisionedAt };
  }
  const rotation = svc.config.rotation;
  const window = { from: parseTimeOfDay(rotation.from), to: parseTimeOfDay(rotation.to) };
  const label = `${formatTimeOfDay(window.from)}-${formatTimeOfDay(window.to)} ${rotation.timeZone}`;
  if (!isInDailyWindow(now, window, rotation.timeZone)) return { open: false, reason: `outside the rotation window (${label})` };
  const trust = timeTrust(view, svc.config, now);
  if (!trust.trusted) return { open: false, reason: `the clock is not trusted: ${trust.reason ?? 'unknown'}` };
  // The window began at the last occurrence of `from`, less than a day ago.
  return { open: true, reason: `inside the rotation window (${label})`, windowStart: nextDailyOccurrence(now - 86_400_000, window.from, rotation.timeZone) };
}

function putState(tx: WriteTx, state: ChannelState): void {
  tx.put(COLD_RECORDS.channelState, SINGLETON, state);
}

function eraseKey(svc: ColdServices, tx: WriteTx, cId: number): void {
  svc.vault.deleteSecret(tx, channelKeySecret(cId));
}

/** CC:QH from a V-Device number: a new pending channel and the QC reply, if the window is open. */
export function handleChannelRequest(svc: ColdServices, tx: WriteTx, from: string, request: { qh: string; hId: number }): { accepted: boolean; reason: string; cId?: number } {
  const now = svc.clock.now();
  sweepChannels(svc, tx, now);
  const window = windowState(svc, tx, now);
  if (!window.open) {
    tx.audit('channel.request-refused', { from: maskNumber(from), hId: request.hId, reason: window.reason });
    return { accepted: false, reason: window.reason };
  }
  // The app repeating its request (same key, same hId) gets the same answer again.
  const repeated = channelsWith(tx, 'pending').find((c) => c.qh === request.qh && c.hId === request.hId && c.vDevice === from);
  if (repeated !== undefined) {
    svc.sms.enqueue(from, formatColdMessage({ kind: 'channel-reply', qc: repeated.qc, cId: repeated.cId, hId: repeated.hId }));
    tx.audit('channel.request-repeated', { cId: repeated.cId, hId: request.hId });
    return { accepted: true, reason: 'repeated request', cId: repeated.cId };
  }
  // The same request again after its channel opened (a late copy from the other carrier).
  const opened = currentChannel(tx);
  if (opened !== undefined && opened.qh === request.qh && opened.hId === request.hId && opened.vDevice === from) {
    tx.audit('channel.request-duplicate', { cId: opened.cId, hId: request.hId });
    return { accepted: false, reason: 'a copy of the request of the open channel' };
  }
  const state = channelState(tx);
  const windowStart = window.windowStart ?? now;
  const requests = state.windowRequests?.windowStart === windowStart ? state.windowRequests.count : 0;
  if (requests >= 1) {
    alertAdmins(svc, tx, 'CHANNEL_SECOND_REQUEST', `a second channel request in one window (from ${maskNumber(from)}); check the V-Device`, { from: maskNumber(from) });
  }
  for (const pending of channelsWith(tx, 'pending')) {
    tx.put(COLD_RECORDS.channels, pending.cId, { ...pending, status: 'closed', closedAt: now, closeReason: 'superseded by a newer request' });
    eraseKey(svc, tx, pending.cId);
  }
  const cId = state.lastCId + 1 + Math.floor((new DataView(svc.random.bytes(4).buffer).getUint32(0) / 2 ** 32) * MAX_CID_STEP);
  let secret = svc.random.bytes(32);
  while (!secp.utils.isValidSecretKey(secret)) secret = svc.random.bytes(32);
  const qc = bytesToHex(secp.getPublicKey(secret, true)).toUpperCase();
  svc.vault.putSecret(tx, channelKeySecret(cId), secret);
  secret.fill(0);
  tx.put(COLD_RECORDS.channels, cId, { cId, hId: request.hId, qh: request.qh, qc, status: 'pending', createdAt: now, vDevice: from });
  putState(tx, { ...state, lastCId: cId, windowRequests: { windowStart, count: requests + 1 } });
  svc.sms.enqueue(from, formatColdMessage({ kind: 'channel-reply', qc, cId, hId: request.hId }));
  tx.audit('channel.requested', { cId, hId: request.hId, from: maskNumber(from), qh: request.qh, window: window.reason });
  return { accepted: true, reason: window.reason, cId };
}

/** CC:CHANNEL_OK: the pending channel opens and the previous open one is retired. */
export function handleChannelOk(svc: ColdServices, tx: WriteTx, from: string, cId: number): { opened: boolean; reason: string } {
  const now = svc.clock.now();
  sweepChannels(svc, tx, now);
  const channel = channelById(tx, cId);
  if (channel === undefined || channel.status !== 'pending' || channel.vDevice !== from) {
    const state = channelState(tx);
    const bad = state.badChannelOks + 1;
    const reason = channel === undefined ? `no channel ${cId}` : channel.status !== 'pending' ? `channel ${cId} is ${channel.status}` : `channel ${cId} was requested from another number`;
    tx.audit('channel.bad-ok', { cId, from: maskNumber(from), reason });
    if (bad >= svc.config.alerts.badChannelOks) {
      alertAdmins(svc, tx, 'CHANNEL_BAD_OK', `${bad} CHANNEL_OK messages naming no pending channel (last: ${cId}); possible forgery`, { cId });
      putState(tx, { ...state, badChannelOks: 0 });
    } else {
      putState(tx, { ...state, badChannelOks: bad });
    }
    return { opened: false, reason };
  }
  for (const open of channelsWith(tx, 'open')) {
    tx.put(COLD_RECORDS.channels, open.cId, { ...open, status: 'retired', retiredAt: now });
    eraseKey(svc, tx, open.cId);
    tx.audit('channel.retired', { cId: open.cId, by: cId });
    svc.events.emit('channel.retired', { cId: open.cId, by: cId });
  }
  const expiresAt = now + svc.config.rotation.maxAgeHours * 3_600_000;
  tx.put(COLD_RECORDS.channels, cId, { ...channel, status: 'open', openedAt: now, expiresAt });
  const device = tx.get(COLD_RECORDS.device, SINGLETON);
  if (device !== undefined && !device.hadChannel) tx.put(COLD_RECORDS.device, SINGLETON, { ...device, hadChannel: true });
  tx.audit('channel.opened', { cId, hId: channel.hId, expiresAt });
  svc.events.emit('channel.opened', { cId, expiresAt });
  return { opened: true, reason: 'opened' };
}

/** Drops unconfirmed channels, expires old ones, closes a lapsed operator window. */
export function sweepChannels(svc: ColdServices, tx: WriteTx, now: number): void {
  const pendingLimit = svc.config.rotation.pendingMinutes * 60_000;
  for (const pending of channelsWith(tx, 'pending')) {
    if (now - pending.createdAt < pendingLimit) continue;
    tx.put(COLD_RECORDS.channels, pending.cId, { ...pending, status: 'closed', closedAt: now, closeReason: 'not confirmed in time' });
    eraseKey(svc, tx, pending.cId);
    tx.audit('channel.dropped', { cId: pending.cId, reason: 'not confirmed in time' });
  }
  for (const open of channelsWith(tx, 'open')) {
    if (open.expiresAt === undefined || open.expiresAt > now) continue;
    tx.put(COLD_RECORDS.channels, open.cId, { ...open, status: 'expired' });
    eraseKey(svc, tx, open.cId);
    tx.audit('channel.expired', { cId: open.cId });
    svc.events.emit('channel.expired', { cId: open.cId });
  }
  const state = channelState(tx);
  if (state.operatorWindowUntil !== undefined && state.operatorWindowUntil <= now) {
    const { operatorWindowUntil: _closed, ...rest } = state;
    putState(tx, rest);
    tx.audit('channel.window-closed', { by: 'timer' });
  }
}

/** Closes a channel at once (a forged vc_code, or an operator). */
export function closeChannel(svc: ColdServices, tx: WriteTx, cId: number, reason: string): void {
  const channel = channelById(tx, cId);
  if (channel === undefined || (channel.status !== 'open' && channel.status !== 'pending')) return;
  const now = svc.clock.now();
  tx.put(COLD_RECORDS.channels, cId, { ...channel, status: 'closed', closedAt: now, closeReason: reason.slice(0, 200) });
  eraseKey(svc, tx, cId);
  tx.audit('channel.closed', { cId, reason });
  svc.events.emit('channel.closed', { cId, reason });
}

/** An operator holds the window open for `minutes` (it closes by itself afterwards). */
export function openOperatorWindow(svc: ColdServices, tx: WriteTx, minutes: number): number {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_OPERATOR_WINDOW_MINUTES) {
    throw new HsmError('BAD_WINDOW', `the window can be opened for 1..${MAX_OPERATOR_WINDOW_MINUTES} minutes`, { field: 'minutes' });
  }
  const until = svc.clock.now() + minutes * 60_000;
  putState(tx, { ...channelState(tx), operatorWindowUntil: until });
  tx.audit('channel.window-opened', { minutes, until });
  return until;
}

export function closeOperatorWindow(svc: ColdServices, tx: WriteTx): void {
  const state = channelState(tx);
  if (state.operatorWindowUntil === undefined) return;
  const { operatorWindowUntil: _closed, ...rest } = state;
  putState(tx, rest);
  tx.audit('channel.window-closed', { by: 'operator' });
  void svc;
}

/** Signs `message` with the private key of channel `cId` (BIP-137, compressed). */
export function signWithChannel(svc: ColdServices, cId: number, message: string): string {
  const key = svc.vault.getSecret(channelKeySecret(cId));
  try {
    return signMessage(message, key);
  } finally {
    key.fill(0);
  }
}
