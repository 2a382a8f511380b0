import { describe, expect, it } from 'vitest';
import { BATCH_SIZE, MAX_BATCH_NO, batchContentString, batchOfIndex, batchRange, parseBatchNo } from '../../shared/crypto/batch-content.ts';
import { expectHsmError } from '../helpers/errors.ts';

describe('address batches (spec §Batch content string)', () => {
  it('batch b holds indexes b*1000 .. b*1000+999', () => {
    expect(batchRange(0)).toEqual({ batchNo: 0, from: 0, count: 1000 });
    expect(batchRange(7)).toEqual({ batchNo: 7, from: 7000, count: 1000 });
    expect(batchOfIndex(7999)).toEqual({ batchNo: 7, position: 999 });
    expect(batchOfIndex(8000)).toEqual({ batchNo: 8, position: 0 });
    const last = batchRange(MAX_BATCH_NO);
    expect(last.from + last.count - 1).toBeLessThan(2 ** 31);
  });

  it('content string numbers positions inside the batch and ends with ":"', () => {
    const addresses = Array.from({ length: BATCH_SIZE }, (_, k) => `addr${k}`);
    const text = batchContentString(addresses);
    expect(text.startsWith('0,addr0:1,addr1:2,addr2:')).toBe(true);
    expect(text.endsWith('998,addr998:999,addr999:')).toBe(true);
    expect(text.split(':').length).toBe(BATCH_SIZE + 1);
  });

  it('refuses bad batch numbers and incomplete batches', () => {
    expectHsmError(() => batchRange(-1), 'BAD_BATCH_NO', 'batch_no');
    expectHsmError(() => batchRange(1.5), 'BAD_BATCH_NO');
    expectHsmError(() => batchRange(MAX_BATCH_NO + 1), 'BAD_BATCH_NO');
    expectHsmError(() => batchContentString(['a']), 'BAD_BATCH');
    expect(parseBatchNo('12')).toBe(12);
    for (const bad of ['', '-1', '01', '1a', ' 1', '99999999999']) expectHsmError(() => parseBatchNo(bad), 'BAD_BATCH_NO');
  });
});
