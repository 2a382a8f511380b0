/**
 * The audit tamper suite at soak size (tamper-kit.ts): a longer world (three withdrawals
 * before and after a restart) and each kind of tampering at twelve entries of each device's
 * log, named exactly every time.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICES, TAMPERS, buildWorld, expectEveryTamperingNamed, type Device, type World } from './tamper-kit.ts';

const AT = 12;
let world: World;

beforeAll(async () => {
  world = await buildWorld('tamper-soak', 3);
}, 900_000);

afterAll(() => {
  if (world !== undefined) rmSync(world.dir, { recursive: true, force: true });
});

describe.each(DEVICES)('the audit log of %s', (device: Device) => {
  it(`finds ${TAMPERS.length} kinds of tampering at ${AT} entries each and names the entry (${TAMPERS.length * AT} cases)`, async () => {
    expect(await expectEveryTamperingNamed(world, device, AT)).toBe(TAMPERS.length * AT);
  }, 900_000);
});
