/**
 * Inbound SMS, from the modem pool's durable inbox, to the channel and batch handlers. Only the
 * configured V-Device numbers are heard and answered; anything else, and malformed CC:
 * messages, are recorded in the audit log and change nothing. A message is marked handled in
 * the same transaction as its effects, so a crash replays it whole or not at all.
 * @module
 */
import { parseVDeviceMessage, type VDeviceMessage } from '../shared/chaincloud/sms.ts';
import type { HsmError } from '../shared/errors.ts';
import type { WriteTx } from '../shared/store/store.ts';
import { maskNumber } from './alerts.ts';
import { answerBatchCheck, type BatchOutcome } from './batches.ts';
import { currentChannel, handleChannelOk, handleChannelRequest } from './channel.ts';
import type { ColdServices } from './services.ts';

export interface InboundSms {
  id: number;
  from: string;
  text: string;
}

function digits(number: string): string {
  return number.replace(/^\+/, '');
}

export function isVDevice(svc: ColdServices, from: string): string | undefined {
  return svc.config.vDeviceNumbers.find((n) => digits(n) === digits(from));
}

export type Triage = { kind: 'ignore'; reason: string; code: string } | { kind: 'message'; vDevice: string; message: VDeviceMessage };

/** Who sent it and what it says; no state is read or changed. */
export function triageSms(svc: ColdServices, sms: InboundSms): Triage {
  const vDevice = isVDevice(svc, sms.from);
  if (vDevice === undefined) return { kind: 'ignore', code: 'UNKNOWN_SENDER', reason: 'not a V-Device number' };
  try {
    return { kind: 'message', vDevice, message: parseVDeviceMessage(sms.text) };
  } catch (error) {
    const e = error as HsmError;
    return { kind: 'ignore', code: e.code, reason: e.message };
  }
}

/**
 * Slow work done before the transaction (deriving and signing a batch); the transaction then
 * checks that the channel it used is still the open one.
 */
export async function prepareSms(svc: ColdServices, triage: Triage): Promise<BatchOutcome | undefined> {
  if (triage.kind !== 'message' || triage.message.kind !== 'verify-addresses') return undefined;
  const m = triage.message;
  return answerBatchCheck(svc, svc.store, m.addressType, m.coin, m.batchNo);
}

/** Applies one inbound SMS inside `tx` (the caller marks it handled in the same transaction). */
export function applySms(svc: ColdServices, tx: WriteTx, sms: InboundSms, triage: Triage, prepared: BatchOutcome | undefined): void {
  if (triage.kind === 'ignore') {
    tx.audit('sms.ignored', { id: sms.id, from: maskNumber(sms.from), code: triage.code, reason: triage.reason.slice(0, 200) });
    svc.log.info({ id: sms.id, from: maskNumber(sms.from), code: triage.code }, 'inbound SMS ignored');
    return;
  }
  const { vDevice, message } = triage;
  switch (message.kind) {
    case 'channel-request':
      handleChannelRequest(svc, tx, vDevice, message);
      return;
    case 'channel-ok':
      handleChannelOk(svc, tx, vDevice, message.cId);
      return;
    case 'verify-addresses': {
      const open = currentChannel(tx);
      if (prepared === undefined || !prepared.ok || open?.cId !== prepared.cId) {
        const reason = prepared !== undefined && !prepared.ok ? prepared.reason : 'the channel changed while the batch was prepared';
        tx.audit('batch.refused', { addressType: message.addressType, coin: message.coin, batchNo: message.batchNo, reason });
        return;
      }
      svc.sms.enqueue(vDevice, prepared.text);
      tx.audit('batch.signed', { addressType: message.addressType, coin: message.coin, batchNo: message.batchNo, cId: prepared.cId });
    }
  }
}
