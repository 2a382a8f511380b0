import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { ConcatAssembler, joinParts } from '../../shared/gsm/concat.ts';
import type { ConcatInfo } from '../../shared/gsm/pdu.ts';

const part = (sequence: number, text: string, concat: Partial<ConcatInfo> = {}) => ({
  originator: '+4917099',
  text,
  timestamp: 1000 + sequence,
  concat: { reference: 7, referenceBits: 8 as const, total: 3, sequence, ...concat },
});

describe('ConcatAssembler (23.040 §9.2.3.24.1)', () => {
  it('assembles parts that arrive out of order and ignores duplicates', () => {
    const assembler = new ConcatAssembler({ clock: new SimulatedClock() });
    expect(assembler.add(part(3, 'c'))).toBeUndefined();
    expect(assembler.add(part(1, 'a'))).toBeUndefined();
    expect(assembler.add(part(1, 'a'))).toBeUndefined();
    expect(assembler.add(part(2, 'b'))).toEqual({ originator: '+4917099', text: 'abc', timestamp: 1001, partCount: 3 });
    expect(assembler.pending).toBe(0);
  });

  it('keeps 8- and 16-bit references and different senders apart', () => {
    const assembler = new ConcatAssembler({ clock: new SimulatedClock() });
    assembler.add(part(1, 'a'));
    assembler.add(part(2, 'X', { referenceBits: 16 }));
    assembler.add({ ...part(2, 'Y'), originator: '+4917000' });
    expect(assembler.pending).toBe(3);
    assembler.add(part(2, 'b'));
    expect(assembler.add(part(3, 'c'))?.text).toBe('abc');
  });

  it('drops incomplete messages after the time limit and beyond the group limit', async () => {
    const clock = new SimulatedClock();
    const assembler = new ConcatAssembler({ clock, timeoutMs: 1000, maxGroups: 2 });
    assembler.add(part(1, 'a'));
    await clock.advance(1000);
    expect(assembler.pending).toBe(0);
    assembler.add(part(1, 'a', { reference: 1 }));
    assembler.add(part(1, 'a', { reference: 2 }));
    assembler.add(part(1, 'a', { reference: 3 }));
    expect(assembler.pending).toBe(2);
  });

  it('passes single messages straight through', () => {
    const assembler = new ConcatAssembler({ clock: new SimulatedClock() });
    expect(assembler.add({ originator: '+1', text: 'hi', timestamp: 5, concat: undefined })).toEqual({ originator: '+1', text: 'hi', timestamp: 5, partCount: 1 });
    expect(joinParts(2, new Map([[1, 'a']]))).toBeUndefined();
  });
});
