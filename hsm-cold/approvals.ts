/**
 * Approvals of Hot-Sending requests, asked by HSM-Hot over the link (`cold.approve`), each
 * applied inside the RPC transaction that records its reply (exactly once across reboots).
 *
 *   1. the request string is rebuilt from the fields (spec §vc_code);
 *   2. the same user_tx_no again: the same request gets the same reply, a different one is
 *      refused as a conflict and alerts the administrators;
 *   3. the channel named by c_id must be open (retired, expired, unknown: refused, nothing closes);
 *      a pending one whose QH the vc_code recovers to opens (its CHANNEL_OK was lost:
 *      channel.ts `confirmPendingByVcCode`);
 *   4. the key recovered from vc_code must be the channel's QH; otherwise the channel is closed,
 *      the administrators are alerted, the request is refused, and the next channel needs an
 *      operator window;
 *   5. `outs` = PING is answered without a spend; otherwise the policy decides (a run of
 *      refusals alerts the administrators);
 *   6. approved: a statement over the request hash, user_tx_no, c_id and time, signed with the
 *      identity key (shared/chaincloud/approval.ts).
 * @module
 */
import { approvalStatementText, requestHash, type ApprovalStatement } from '../shared/chaincloud/approval.ts';
import { bytesToHex } from '../shared/crypto/hash.ts';
import { recoverMessagePublicKey } from '../shared/crypto/message-signature.ts';
import { getNetwork } from '../shared/crypto/networks.ts';
import { parseOuts, requestString, type HotSendRequest } from '../shared/crypto/request-string.ts';
import { secp } from '../shared/crypto/secp.ts';
import { HsmError } from '../shared/errors.ts';
import type { z } from 'zod';
import type { DEVICE_LINK_MESSAGES } from '../shared/link/messages.ts';
import { refuse, type Refusal } from '../shared/link/rpc.ts';
import { identitySigner } from '../shared/store/identity.ts';
import type { WriteTx } from '../shared/store/store.ts';
import { alertAdmins } from './alerts.ts';
import { channelById, closeChannel, confirmPendingByVcCode, sweepChannels } from './channel.ts';
import { evaluatePolicy, recordSpend } from './policy.ts';
import { COLD_RECORDS, SINGLETON, type ApprovalRecord } from './records.ts';
import type { ColdServices } from './services.ts';

export type ApproveRequest = z.infer<(typeof DEVICE_LINK_MESSAGES)['cold.approve']['request']>;
export type ApproveReply = z.infer<(typeof DEVICE_LINK_MESSAGES)['cold.approve']['reply']>;

function replyOf(record: ApprovalRecord): ApproveReply {
  return { kind: record.kind, requestHash: record.requestHash, userTxNo: record.userTxNo, cId: record.cId, approvedAt: record.approvedAt, signature: record.signature };
}

/** True when `vcCode` over `signedText` was made with the private key of `qhHex`. */
function vcCodeMatches(signedText: string, vcCode: string, qhHex: string): boolean {
  try {
    const recovered = recoverMessagePublicKey(signedText, vcCode, getNetwork('btc-main'), 'vc_code');
    return bytesToHex(secp.Point.fromBytes(recovered).toBytes(true)).toUpperCase() === qhHex;
  } catch {
    return false;
  }
}

function recordRefusal(svc: ColdServices, tx: WriteTx, body: ApproveRequest, code: string, message: string, countsAsPolicy: boolean): Refusal {
  const now = svc.clock.now();
  const counters = tx.get(COLD_RECORDS.counters, SINGLETON) ?? { refusalRun: 0, refusalSeq: 0 };
  const seq = counters.refusalSeq + 1;
  let run = countsAsPolicy ? counters.refusalRun + 1 : counters.refusalRun;
  tx.put(COLD_RECORDS.refusals, seq, { userTxNo: body.userTxNo, code, message: message.slice(0, 300), cId: body.cId, at: now });
  tx.audit('approval.refused', { userTxNo: body.userTxNo, cId: body.cId, code, message: message.slice(0, 300) });
  svc.events.emit('approval.refused', { userTxNo: body.userTxNo, cId: body.cId, code });
  if (countsAsPolicy && run >= svc.config.alerts.refusalRun) {
    alertAdmins(svc, tx, 'REFUSAL_RUN', `${run} requests refused by policy in a row (last ${body.userTxNo}: ${code})`, { userTxNo: body.userTxNo, code });
    run = 0;
  }
  tx.put(COLD_RECORDS.counters, SINGLETON, { refusalRun: run, refusalSeq: seq });
  return refuse(code, message);
}

/** Handles `cold.approve` inside the RPC transaction. */
export function approve(svc: ColdServices, tx: WriteTx, body: ApproveRequest): ApproveReply | Refusal {
  const now = svc.clock.now();
  const request: HotSendRequest = {
    coinCode: body.coinCode,
    userTxNo: body.userTxNo,
    outs: body.outs,
    isDynamicFee: body.isDynamicFee,
    outType: body.outType,
    memo: body.memo,
  };
  let signedText: string;
  try {
    signedText = requestString(request);
  } catch (error) {
    const e = error as HsmError;
    return refuse(e.code, e.message, e.field);
  }
  const hash = requestHash(request);

  const previous = tx.get(COLD_RECORDS.approvals, body.userTxNo);
  if (previous !== undefined) {
    if (previous.requestHash === hash) return replyOf(previous);
    alertAdmins(svc, tx, 'USER_TX_CONFLICT', `user_tx_no ${body.userTxNo} was approved before for a different request`, { userTxNo: body.userTxNo });
    return recordRefusal(svc, tx, body, 'USER_TX_CONFLICT', `user_tx_no ${body.userTxNo} was already approved for a different request`, false);
  }

  const coin = svc.config.coins[body.coinCode];
  if (coin === undefined) return recordRefusal(svc, tx, body, 'COIN_NOT_SERVED', `${body.coinCode} is not served by this device`, false);

  sweepChannels(svc, tx, now);
  let channel = channelById(tx, body.cId);
  if (channel === undefined) return recordRefusal(svc, tx, body, 'CHANNEL_UNKNOWN', `there is no channel ${body.cId}`, false);
  const signedByChannel = vcCodeMatches(signedText, body.vcCode, channel.qh);
  // The app signs with a channel right after sending its CHANNEL_OK, which may be lost.
  if (channel.status === 'pending' && signedByChannel) {
    confirmPendingByVcCode(svc, tx, channel, body.userTxNo);
    channel = { ...channel, status: 'open' };
  }
  if (channel.status !== 'open') {
    const reason = channel.status === 'pending' ? 'is not confirmed yet' : `is ${channel.status}${channel.closeReason === undefined ? '' : ` (${channel.closeReason})`}`;
    return recordRefusal(svc, tx, body, `CHANNEL_${channel.status.toUpperCase()}`, `channel ${body.cId} ${reason}`, false);
  }

  if (!signedByChannel) {
    closeChannel(svc, tx, channel.cId, `forged vc_code for user_tx_no ${body.userTxNo}`, { requireOperator: true });
    alertAdmins(svc, tx, 'VC_CODE_INVALID', `channel ${channel.cId} closed: forged vc_code. New channels only after console: channel open-window. tx ${body.userTxNo}`, {
      userTxNo: body.userTxNo,
      cId: channel.cId,
    });
    return recordRefusal(svc, tx, body, 'VC_CODE_INVALID', `vc_code was not made by the V-Device key of channel ${channel.cId}; the channel is closed`, false);
  }

  let outs;
  try {
    outs = parseOuts(body.outs, getNetwork(coin.network));
  } catch (error) {
    const e = error as HsmError;
    return recordRefusal(svc, tx, body, e.code, e.message, false);
  }

  let kind: ApprovalStatement['kind'] = 'ping';
  let amount = 0n;
  if (outs.kind === 'payments') {
    const verdict = evaluatePolicy(tx, body.coinCode, coin.policy, outs.payments, outs.total, now);
    if (!verdict.ok) return recordRefusal(svc, tx, body, verdict.code, verdict.message, true);
    kind = 'spend';
    amount = outs.total;
  }

  const statement: ApprovalStatement = { requestHash: hash, userTxNo: body.userTxNo, cId: channel.cId, approvedAt: now, kind };
  const signature = identitySigner(tx, svc.vault).signMessage(approvalStatementText(statement));
  const record: ApprovalRecord = { ...statement, coin: body.coinCode, amount: amount.toString(), signature };
  tx.put(COLD_RECORDS.approvals, body.userTxNo, record);
  if (kind === 'spend') recordSpend(tx, body.coinCode, amount, body.userTxNo, now);
  const counters = tx.get(COLD_RECORDS.counters, SINGLETON) ?? { refusalRun: 0, refusalSeq: 0 };
  if (kind === 'spend' && counters.refusalRun !== 0) tx.put(COLD_RECORDS.counters, SINGLETON, { ...counters, refusalRun: 0 });
  tx.audit('approval.granted', { userTxNo: body.userTxNo, cId: channel.cId, kind, coin: body.coinCode, amount: amount.toString(), requestHash: hash });
  return replyOf(record);
}
