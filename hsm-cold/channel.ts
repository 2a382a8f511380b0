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
 *
 * What the released app forces (spec "What the released app does"):
 * - It never resends CHANNEL_OK and signs with the new cId right after sending it. A vc_code
 *   whose key recovers to the pending channel's QH proves the phone holds that channel (more
 *   than the unsigned CHANNEL_OK does), so it confirms the channel, audited as such
 *   (`confirmPendingByVcCode`). A pending channel dropped unconfirmed alerts the
 *   administrators with what to do, so a phone signing with it is not stranded unexplained.
 * - It never retries a QH: a refused request is counted and reported as an event, so an
 *   operator sees why the phone got no answer.
 * - It parses cId as a Java int: ids stop at MAX_CHANNEL_ID.
 * After a forged vc_code closed a channel, the next channel needs a window an operator opens
 * (`channel open-window` on the console): the forger may be the one asking for it.
 * @module
 */
import { MAX_CHANNEL_ID, formatColdMessage } from '../shared/chaincloud/sms.ts';
import { bytesToHex } from '../shared/crypto/hash.ts';
import { signMessage } from '../shared/crypto/message-signature.ts';
import { secp } from '../shared/crypto/secp.ts';
import { HsmError } from '../shared/errors.ts';
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import { formatTimeOfDay, isInDailyWindow, nextDailyOccurrence, parseTimeOfDay } from '../shared/time-zone.ts';
import { alertAdmins, maskNumber } from './alerts.ts';
import type { z } from 'zod';
import { COLD_RECORDS, SINGLETON, channelKeySecret, type ChannelRecord, type channelStateSchema } from './records.ts';
import type { ColdServices } from './services.ts';
import { timeTrust } from './time-trust.ts';

const MAX_CID_STEP = 1000;
const MAX_OPERATOR_WINDOW_MINUTES = 12 * 60;

export type ChannelState = ReturnType<typeof channelState>;

function channelState(view: ReadView): z.infer<typeof channelStateSchema> {
  return view.get(COLD_RECORDS.channelState, SINGLETON) ?? { lastCId: 0, badChannelOks: 0 };
}

/** How many channel requests were refused, and the last reason (for the console and status). */
export function channelRequestRefusals(view: ReadView): { count: number; lastAt?: number; lastReason?: string } {
  return channelState(view).refusedRequests ?? { count: 0 };
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
  if (state.operatorRequired !== undefined) {
    return { open: false, reason: `channel ${state.operatorRequired.cId} was closed (${state.operatorRequired.reason}): the next channel needs an operator window (channel open-window)` };
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

/** A channel request that gets no answer: audited, counted, and reported as an event. */
function refuseRequest(svc: ColdServices, tx: WriteTx, from: string, hId: number, reason: string): { accepted: false; reason: string } {
  const state = channelState(tx);
  const count = (state.refusedRequests?.count ?? 0) + 1;
  const lastReason = reason.slice(0, 200);
  putState(tx, { ...state, refusedRequests: { count, lastAt: svc.clock.now(), lastReason } });
  tx.audit('channel.request-refused', { from: maskNumber(from), hId, reason });
  svc.events.emit('channel.request-refused', { from: maskNumber(from), hId, reason: lastReason, count });
  return { accepted: false, reason };
}

/** CC:QH from a V-Device number: a new pending channel and the QC reply, if the window is open. */
export function handleChannelRequest(svc: ColdServices, tx: WriteTx, from: string, request: { qh: string; hId: number }): { accepted: boolean; reason: string; cId?: number } {
  const now = svc.clock.now();
  sweepChannels(svc, tx, now);
  const window = windowState(svc, tx, now);
  if (!window.open) return refuseRequest(svc, tx, from, request.hId, window.reason);
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
  const room = MAX_CHANNEL_ID - state.lastCId;
  if (room < 1) {
    alertAdmins(svc, tx, 'CHANNEL_IDS_EXHAUSTED', `channel ids exhausted at ${state.lastCId}: the app cannot parse a larger one`, {});
    return refuseRequest(svc, tx, from, request.hId, `channel ids are exhausted (the app parses at most ${MAX_CHANNEL_ID})`);
  }
  const step = Math.floor((new DataView(svc.random.bytes(4).buffer).getUint32(0) / 2 ** 32) * MAX_CID_STEP);
  const cId = state.lastCId + 1 + Math.min(step, room - 1);
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
  openPending(svc, tx, channel, now, 'channel-ok');
  return { opened: true, reason: 'opened' };
}

/**
 * A vc_code made with the key of pending channel `channel` (its CHANNEL_OK was lost; the app
 * signs with the new channel at once and never resends it): the channel opens, audited as
 * confirmed by that request.
 */
export function confirmPendingByVcCode(svc: ColdServices, tx: WriteTx, channel: ChannelRecord, userTxNo: string): void {
  if (channel.status !== 'pending') throw new Error(`invariant failed: channel ${channel.cId} is ${channel.status}, not pending`);
  tx.audit('channel.confirmed-by-vc-code', { cId: channel.cId, userTxNo });
  openPending(svc, tx, channel, svc.clock.now(), 'vc_code');
}

/** Opens a pending channel and retires the open one. */
function openPending(svc: ColdServices, tx: WriteTx, channel: ChannelRecord, now: number, confirmedBy: 'channel-ok' | 'vc_code'): void {
  const { cId } = channel;
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
  tx.audit('channel.opened', { cId, hId: channel.hId, expiresAt, confirmedBy });
  svc.events.emit('channel.opened', { cId, expiresAt, confirmedBy });
}

/** Drops unconfirmed channels, expires old ones, closes a lapsed operator window. */
export function sweepChannels(svc: ColdServices, tx: WriteTx, now: number): void {
  const pendingLimit = svc.config.rotation.pendingMinutes * 60_000;
  for (const pending of channelsWith(tx, 'pending')) {
    if (now - pending.createdAt < pendingLimit) continue;
    tx.put(COLD_RECORDS.channels, pending.cId, { ...pending, status: 'closed', closedAt: now, closeReason: 'not confirmed in time' });
    eraseKey(svc, tx, pending.cId);
    tx.audit('channel.dropped', { cId: pending.cId, reason: 'not confirmed in time' });
    // The app signs with a channel as soon as it sent CHANNEL_OK: if that was lost, the phone
    // now signs with a channel that is gone.
    alertAdmins(
      svc,
      tx,
      'CHANNEL_UNCONFIRMED',
      `channel ${pending.cId} got no CHANNEL_OK in ${svc.config.rotation.pendingMinutes} min, dropped. If the phone signs with it: console channel open-window, then Create on the phone`,
      { cId: pending.cId },
    );
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

/**
 * Closes a channel at once (a forged vc_code, or an operator). With `requireOperator`, no new
 * channel is accepted until an operator opens the window.
 */
export function closeChannel(svc: ColdServices, tx: WriteTx, cId: number, reason: string, options: { requireOperator?: boolean } = {}): void {
  const channel = channelById(tx, cId);
  if (channel === undefined || (channel.status !== 'open' && channel.status !== 'pending')) return;
  const now = svc.clock.now();
  tx.put(COLD_RECORDS.channels, cId, { ...channel, status: 'closed', closedAt: now, closeReason: reason.slice(0, 200) });
  eraseKey(svc, tx, cId);
  tx.audit('channel.closed', { cId, reason, operatorRequired: options.requireOperator === true });
  svc.events.emit('channel.closed', { cId, reason });
  if (options.requireOperator === true) putState(tx, { ...channelState(tx), operatorRequired: { cId, at: now, reason: reason.slice(0, 200) } });
}

/** An operator holds the window open for `minutes` (it closes by itself afterwards). */
export function openOperatorWindow(svc: ColdServices, tx: WriteTx, minutes: number): number {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_OPERATOR_WINDOW_MINUTES) {
    throw new HsmError('BAD_WINDOW', `the window can be opened for 1..${MAX_OPERATOR_WINDOW_MINUTES} minutes`, { field: 'minutes' });
  }
  const until = svc.clock.now() + minutes * 60_000;
  const { operatorRequired, ...state } = channelState(tx);
  putState(tx, { ...state, operatorWindowUntil: until });
  tx.audit('channel.window-opened', { minutes, until, ...(operatorRequired === undefined ? {} : { afterClosure: operatorRequired.cId }) });
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
