/**
 * Address batches (spec §"Batch content string"): batch b holds external-chain indexes
 * b*1000 .. b*1000+999, and HSM-Cold signs the batch content string
 *
 *   0,<address0>:1,<address1>: ... 999,<address999>:
 *
 * where the number is the position inside the batch, not the global index.
 * @module
 */
import { HsmError } from '../errors.ts';

export const BATCH_SIZE = 1000;
/** Highest batch whose indexes stay non-hardened (below 2^31). */
export const MAX_BATCH_NO = Math.floor(2 ** 31 / BATCH_SIZE) - 1;

/** Address type codes of the Open API and vweb (`address_type`, `type`). */
export const ADDRESS_TYPE = { hotSend: 1, coldReceive: 2 } as const;
/** Batch check results reported to vweb (`status`). */
export const BATCH_STATUS = { success: 2, failed: 3 } as const;

export interface BatchRange {
  batchNo: number;
  /** First global index of the batch. */
  from: number;
  count: number;
}

export function batchRange(batchNo: number): BatchRange {
  if (!Number.isSafeInteger(batchNo) || batchNo < 0 || batchNo > MAX_BATCH_NO) {
    throw new HsmError('BAD_BATCH_NO', `batch number must be an integer in 0..${MAX_BATCH_NO}, got ${batchNo}`, { field: 'batch_no' });
  }
  return { batchNo, from: batchNo * BATCH_SIZE, count: BATCH_SIZE };
}

/** The batch a global external-chain index belongs to, and its position inside it. */
export function batchOfIndex(index: number): { batchNo: number; position: number } {
  return { batchNo: Math.floor(index / BATCH_SIZE), position: index % BATCH_SIZE };
}

/** Parses a batch number from text (an SMS field or a URL segment): decimal digits only. */
export function parseBatchNo(text: string, field = 'batch_no'): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) {
    throw new HsmError('BAD_BATCH_NO', `${field} must be a decimal batch number, got "${text.slice(0, 16)}"`, { field });
  }
  return batchRange(Number(text)).batchNo;
}

/** The string HSM-Cold signs for a batch: `k,address:` for each position k, in order. */
export function batchContentString(addresses: readonly string[]): string {
  if (addresses.length !== BATCH_SIZE) {
    throw new HsmError('BAD_BATCH', `a batch holds ${BATCH_SIZE} addresses, got ${addresses.length}`, { field: 'addresses' });
  }
  let text = '';
  for (let k = 0; k < addresses.length; k++) text += `${k},${addresses[k]}:`;
  return text;
}
