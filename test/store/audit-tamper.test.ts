/**
 * The audit tamper suite on both devices (tamper-kit.ts): a real world runs, stops, and each
 * kind of tampering with one device's store is applied at entries spread over its log; the
 * check with the peer's witnessed heads must find every one and name the entry tampered
 * with. The soak file runs more entries of a longer world.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldKeys } from '../../hw-profiles/sim/world-keys.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { checkpointStatement } from '../../shared/store/audit.ts';
import { IDENTITY_SECRET } from '../../shared/store/identity.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { SeededRandom } from '../../shared/random.ts';
import { editAudit } from '../helpers/audit-raw.ts';
import { hsm } from '../helpers/cli.ts';
import { DEVICES, TAMPERS, buildWorld, check, expectEveryTamperingNamed, positions, tampered, type Device, type World } from './tamper-kit.ts';

const SEED = 'tamper';
const AT = 3;
let world: World;

beforeAll(async () => {
  world = await buildWorld(SEED, 1);
}, 600_000);

afterAll(() => {
  if (world !== undefined) rmSync(world.dir, { recursive: true, force: true });
});

describe.each(DEVICES)('the audit log of %s', (device: Device) => {
  it(`finds ${TAMPERS.length} kinds of tampering at ${AT} entries each and names the entry (${TAMPERS.length * AT} cases)`, async () => {
    expect(await expectEveryTamperingNamed(world, device, AT)).toBe(TAMPERS.length * AT);
  }, 300_000);
});

describe('the audit tamper suite', () => {
  it('leaves both untouched logs verifying, each covered by the heads its peer witnessed', () => {
    for (const device of DEVICES) {
      const report = check(world.dir, device, { identity: world.logs[device].identity });
      expect(report.problems).toEqual([]);
      expect(report.lastCheckpointSeq).toBe(report.lastSeq);
      expect(report.witnesses).toBeGreaterThan(2);
      expect(report.lastWitnessedSeq).toBeGreaterThan(report.lastSeq / 2);
    }
  });

  it('cannot catch what the peer has not witnessed yet (cut back, or rewritten with the identity key); past a witnessed head even the key holder is caught', async () => {
    const device: Device = 'hsm-cold';
    const log = world.logs[device];
    // HSM-Cold's log ends with HSM-Hot's last head, which it does not send back.
    expect(log.lastSeq).toBeGreaterThan(log.lastWitnessedSeq);
    const key = await identityKey(world, device, worldKeys(SEED).coldPin);
    const withKey = async (at: number): Promise<string> => {
      const dir = await tampered(world, device, { ...TAMPERS[0]!, apply: () => undefined }, at);
      await editAudit(join(dir, device), (raw) => {
        const entry = raw.get(at)!;
        raw.put(at, { ...entry, details: { ...entry.details, tampered: true } });
        raw.rechain(at);
        for (const cp of raw.checkpoints().filter((c) => c.seq >= at)) {
          const hash = raw.get(cp.seq)!.hash;
          raw.putCheckpoint({ ...cp, hash, signature: signMessage(checkpointStatement(device, cp.seq, hash, cp.at), key) });
        }
      });
      return dir;
    };
    const unwitnessed = await withKey(log.lastWitnessedSeq + 1);
    expect(check(unwitnessed, device, { identity: log.identity }).ok).toBe(true);
    const rollback = TAMPERS.find((t) => t.name.startsWith('roll back'))!;
    const cut = await tampered(world, device, rollback, log.lastWitnessedSeq + 1);
    expect(check(cut, device, { identity: log.identity }).ok).toBe(true);
    // Back past a witnessed head the key does not help: the peer holds the old head.
    const witnessed = await withKey(log.lastWitnessedSeq - 1);
    const report = check(witnessed, device, { identity: log.identity });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.code)).toContain('AUDIT_WITNESS_HASH');
    expect(report.firstBadSeq).toBeLessThanOrEqual(log.lastWitnessedSeq);
    key.fill(0);
  });

  it('names a full rewrite under a new identity key (the stolen store, not the key) through the peer\'s witnesses, with no identity pinned', async () => {
    for (const device of DEVICES) {
      const log = world.logs[device];
      const thief = new SeededRandom(`thief-key/${device}`).bytes(32);
      const thiefKey = bytesToHex(secp.getPublicKey(thief, true));
      let created = 0;
      const dir = await tampered(world, device, { ...TAMPERS[0]!, apply: () => undefined }, 2);
      await editAudit(join(dir, device), (raw) => {
        for (let seq = 1; seq <= raw.last() && created === 0; seq++) if (raw.get(seq)?.kind === 'identity.created') created = seq;
        const entry = raw.get(created)!;
        raw.put(created, { ...entry, details: { ...entry.details, publicKey: thiefKey } });
        raw.rechain(created);
        for (const cp of raw.checkpoints()) {
          const hash = raw.get(cp.seq)!.hash;
          raw.putCheckpoint({ ...cp, hash, identity: thiefKey, signature: signMessage(checkpointStatement(device, cp.seq, hash, cp.at), thief) });
        }
        raw.putRecord('sys.identity', 'device', { ...(raw.record('sys.identity', 'device') as object), publicKey: thiefKey });
      });
      // Alone, the rewritten log is consistent under its new key.
      expect(check(dir, device, { witnesses: false }).ok, device).toBe(true);
      // Its peer witnessed heads signed by the key it pinned at pairing, which the log no longer has.
      const report = check(dir, device);
      expect(report.ok, device).toBe(false);
      expect(report.firstBadSeq, device).toBe(created);
      expect(report.problems.find((p) => p.seq === created)?.code, device).toBe('AUDIT_WITNESS_IDENTITY');
      expect(check(dir, device, { identity: log.identity }).ok, device).toBe(false);
    }
  });

  it('hsm audit verify: 0 for the untouched pair, 1 for tampering found (also through an exported witness file), 2 for bad input', async () => {
    const dirs = (d: string) => [join(d, 'hsm-hot'), join(d, 'hsm-cold')];
    const clean = await hsm(['audit', 'verify', ...dirs(world.dir), '--json']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, app: 'hsm-hot', peer: { ok: true, app: 'hsm-cold' } });

    const rollback = TAMPERS.find((t) => t.name.startsWith('roll back'))!;
    const at = positions(world.logs['hsm-hot'], rollback, 1)[0]!;
    const dir = await tampered(world, 'hsm-hot', rollback, at);
    const both = await hsm(['audit', 'verify', ...dirs(dir)]);
    expect(both.code).toBe(1);
    expect(both.stdout).toContain(`first bad entry: ${at}`);

    const file = join(dir, 'cold-witnesses.json');
    expect((await hsm(['audit', 'witnesses', join(dir, 'hsm-cold'), '--out', file])).code).toBe(0);
    const viaFile = await hsm(['audit', 'verify', join(dir, 'hsm-hot'), '--witnesses', file, '--json']);
    expect(viaFile.code).toBe(1);
    expect(JSON.parse(viaFile.stdout)).toMatchObject({ ok: false, firstBadSeq: at });

    const damaged = await tampered(world, 'hsm-cold', { ...TAMPERS[0]!, apply: (raw) => raw.raw('sys.audit-head', 'head', Uint8Array.of(0xc1)) }, 2);
    expect((await hsm(['audit', 'verify', ...dirs(damaged)])).code).toBe(1);
    const badFile = await hsm(['audit', 'verify', join(dir, 'hsm-hot'), '--witnesses', join(dir, 'hsm-hot', 'store.mdb')]);
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toContain('[WITNESS_FILE]');
  }, 120_000);
});

/** The identity private key of `device`, as a thief who also knows the PIN gets it. */
async function identityKey(w: World, device: Device, pin: string): Promise<Uint8Array> {
  const dir = await tampered(w, device, { ...TAMPERS[0]!, apply: () => undefined }, 2);
  const store = DeviceStore.open(join(dir, device), { app: device, schemaVersion: 1 });
  try {
    const vault = new Vault(store, new SeededRandom('thief'));
    vault.unlock(pin);
    return vault.getSecret(IDENTITY_SECRET);
  } finally {
    await store.close();
  }
}
