import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { decodeEnvelope, encodeEnvelope } from '../../shared/link/messages.ts';
import { RPC_COLLECTIONS } from '../../shared/link/rpc.ts';
import { SeededRandom } from '../../shared/random.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { tempDir } from '../helpers/temp.ts';
import { BAUD, LinkNode, effects, totals, until } from '../link/harness.ts';

const PAYLOADS = 10_000;

/** Hand-made hostile msgpack: extension types, reserved bytes, lying lengths, deep nesting... */
function crafted(random: SeededRandom): Uint8Array {
  const pick = random.int(14);
  switch (pick) {
    case 0:
      return Uint8Array.of(0xc1); // never-used byte
    case 1:
      return Uint8Array.of(0xd4 + random.int(5), random.int(256), ...random.bytes(16)); // fixext
    case 2:
      return Uint8Array.of(0xc7, 4, 0xff, 0, 0, 0, 0); // ext8 (timestamp)
    case 3:
      return Uint8Array.of(...new Array(random.between(17, 5000)).fill(0x91), 0xc0); // deep nesting
    case 4:
      return Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff); // array32 claiming 4G elements
    case 5:
      return Uint8Array.of(0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 0x61, 0xc0); // map32 lying
    case 6:
      return Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xf0, 0x41); // str32 lying
    case 7:
      return Uint8Array.of(0x81, 0xa2, 0xc3, 0x28, 0xc0); // invalid UTF-8 key
    case 8:
      return Uint8Array.of(0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x80); // prototype key
    case 9:
      return Uint8Array.of(0x81, 0x01, 0x02); // integer map key
    case 10:
      return Uint8Array.of(...encodeEnvelope({ k: 'req', rid: 1, t: 'link.time', w: 1, b: {} }), 0x00); // trailing byte
    case 11: {
      // a valid msgpack map with wrong field types
      return Uint8Array.from([0x85, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa3, 0x72, 0x65, 0x71, 0xa3, 0x72, 0x69, 0x64, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, 0x74, 0xa0, 0xa1, 0x62, 0xc0]);
    }
    case 12:
      return Uint8Array.of(0xdc, 0x00, 0x03, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0); // uint64 max
    default:
      return Uint8Array.of(0xc6, 0x00, 0x10, 0x00, 0x00, 0x01); // bin32 of 1 MiB that is not there
  }
}

function mutated(random: SeededRandom, seeds: Uint8Array[]): Uint8Array {
  const bytes = Array.from(random.pick(seeds));
  for (let m = random.between(1, 4); m > 0; m--) {
    const at = random.int(bytes.length);
    const op = random.int(4);
    if (op === 0) bytes[at] = random.int(256);
    else if (op === 1) bytes.splice(at, 1);
    else if (op === 2) bytes.splice(at, 0, random.int(256));
    else bytes.length = at;
  }
  return Uint8Array.from(bytes);
}

function hostile(random: SeededRandom, seeds: Uint8Array[]): Uint8Array {
  const r = random.float();
  if (r < 0.25) return random.bytes(random.between(1, 200));
  if (r < 0.5) return crafted(random);
  return mutated(random, seeds);
}

const seeds = [
  encodeEnvelope({ k: 'req', rid: 7, t: 'link.time', w: 7, b: {} }),
  encodeEnvelope({ k: 'req', rid: 9, t: 'link.echo', w: 9, b: { data: Uint8Array.of(1, 2, 3) } }),
  encodeEnvelope({ k: 'res', rid: 3, t: 'link.time', ok: true, b: { now: 1_700_000_000_000 } }),
  encodeEnvelope({ k: 'res', rid: 4, t: 'link.time', ok: false, e: { code: 'X', message: 'no' }, r: 1 }),
];

describe('fuzz: link messages (seeded, fixed counts)', () => {
  it(`${PAYLOADS} hostile msgpack payloads: decodeEnvelope returns a valid envelope or a typed MSG_ error, nothing else`, () => {
    const random = new SeededRandom('fuzz-msgpack');
    const codes = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < PAYLOADS; i++) {
      const payload = hostile(random, seeds);
      try {
        const envelope = decodeEnvelope(payload);
        accepted++;
        expect(['req', 'res']).toContain(envelope.k);
        expect(Number.isSafeInteger(envelope.rid)).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(HsmError);
        const code = (error as HsmError).code;
        expect(code).toMatch(/^MSG_/);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    expect(codes.get('MSG_MALFORMED')).toBeGreaterThan(PAYLOADS / 4);
    expect(codes.get('MSG_ENVELOPE')).toBeGreaterThan(10);
    expect(accepted).toBeLessThan(PAYLOADS / 4);
  });

  it('the same payloads arriving from the authenticated peer change no state and the link keeps working', async () => {
    const clock = new SimulatedClock();
    const wire = new VirtualSerialPair({ clock, baudRate: BAUD });
    const hot = new LinkNode('hot', tempDir(), clock, () => wire.open('a'), { seed: 'fuzz-rpc' }).boot();
    const cold = new LinkNode('cold', tempDir(), clock, () => wire.open('b'), { seed: 'fuzz-rpc' }).boot();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    const random = new SeededRandom('fuzz-msgpack-rpc');
    for (let i = 0; i < PAYLOADS; i++) {
      hot.session.send(hostile(random, seeds));
      if (i % 200 === 199) await clock.advance(5_000);
    }
    await until(clock, () => cold.session.stats().messagesReceived >= PAYLOADS, 600_000, 500);
    const applied = [...cold.store.range(RPC_COLLECTIONS.applied)];
    // Only well-formed requests of effect-free types were answered; nothing was counted.
    expect(applied.every((e) => e.value.type === 'link.time' || e.value.type === 'link.echo')).toBe(true);
    expect(cold.store.count(effects)).toBe(0);
    expect(cold.store.count(totals)).toBe(0);
    expect(cold.rpc.stats().badMessages).toBeGreaterThan(PAYLOADS / 2);
    // The link still carries requests. (Requests the fuzz made look well formed may have moved
    // cold's settled-below mark for hot's numbering, as a misbehaving peer can; the other
    // direction shows the link itself is intact.)
    let answered: unknown;
    void cold.rpc.call('test.notify', { text: 'still there?' }).then((r) => (answered = r));
    await until(clock, () => answered !== undefined, 60_000);
    expect(answered).toEqual({ seen: true });
    expect(cold.session.isUp && hot.session.isUp).toBe(true);
  }, 120_000);
});
