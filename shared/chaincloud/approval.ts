/**
 * HSM-Cold's approval of a Hot-Sending request, as HSM-Hot receives and checks it before it
 * signs anything. The statement binds the exact request (through the hash of its vc_code
 * request string), the user_tx_no, the channel and the time:
 *
 *   hsm-cold-approval/v1
 *   <SHA-256 of the request string, hex>
 *   <user_tx_no>
 *   <c_id>
 *   <approvedAt, Unix ms>
 *   <kind: spend | ping>
 *
 * signed as a Bitcoin message (BIP-137) with HSM-Cold's identity key, which HSM-Hot pinned at
 * pairing.
 * @module
 */
import { createHash } from 'node:crypto';
import { hexToBytesOrUndefined } from '../crypto/hash.ts';
import { signMessage, verifyMessageWithPublicKey } from '../crypto/message-signature.ts';
import { requestString, type HotSendRequest } from '../crypto/request-string.ts';

export type ApprovalKind = 'spend' | 'ping';

export interface ApprovalStatement {
  requestHash: string;
  userTxNo: string;
  cId: number;
  approvedAt: number;
  kind: ApprovalKind;
}

export function requestHash(request: HotSendRequest): string {
  return createHash('sha256').update(requestString(request)).digest('hex');
}

export function approvalStatementText(s: ApprovalStatement): string {
  return ['hsm-cold-approval/v1', s.requestHash, s.userTxNo, String(s.cId), String(s.approvedAt), s.kind].join('\n');
}

export function signApproval(statement: ApprovalStatement, sign: (message: string) => string): string {
  return sign(approvalStatementText(statement));
}

/** True when `signature` is HSM-Cold's (pinned `coldIdentity`, hex) over `statement`. */
export function verifyApproval(statement: ApprovalStatement, signature: string, coldIdentity: string): boolean {
  const key = hexToBytesOrUndefined(coldIdentity);
  return key !== undefined && verifyMessageWithPublicKey(approvalStatementText(statement), signature, key);
}

