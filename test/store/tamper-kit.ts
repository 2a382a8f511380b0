/**
 * The tamper suite's kit: a real world (both devices in the simulated rig, with a channel,
 * withdrawals and a restart) leaves two state directories; each kind of tampering is applied
 * to a copy of one device's store, at a chosen entry, as someone holding the store file but
 * not the PIN could; `verifyAudit` is then run with the other device's witnessed heads.
 *
 * Every kind must be found, and the first bad entry named must be exactly the one tampered
 * with. Kinds that leave the log consistent (a clean rollback, a rewrite with every signature
 * it broke removed) are found only through the peer's witnessed heads, so they are applied at
 * entries the peer witnessed.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { verifyAudit, type AuditProblemCode, type AuditReport } from '../../shared/store/audit.ts';
import { witnessedHeads } from '../../shared/store/audit-witnesses.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { SeededRandom } from '../../shared/random.ts';
import { editAudit, type RawAudit } from '../helpers/audit-raw.ts';
import { channelOpen, testRig } from '../sim/rig-helpers.ts';

export const DEVICES = ['hsm-hot', 'hsm-cold'] as const;
export type Device = (typeof DEVICES)[number];
const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

export interface Tamper {
  name: string;
  /**
   * What shows it: the chain itself (any entry), a checkpoint signed at or after the entry, or
   * only a head the peer witnessed at or after it (the kind leaves the log consistent).
   */
  shownBy: 'chain' | 'checkpoint' | 'witness';
  /** Named exactly only when the entry before it is signed (a re-hashed rewrite). */
  signedPredecessor: boolean;
  /** Touches the entry after it as well. */
  touchesNext?: boolean;
  /** The problems that may name the entry (the first listed, or one of the others where the entry is last). */
  codes: readonly AuditProblemCode[];
  apply(raw: RawAudit, at: number): void;
}

/** Removes every checkpoint from `seq` on: signatures a thief cannot make again. */
function dropCheckpointsFrom(raw: RawAudit, seq: number): void {
  for (const cp of raw.checkpoints()) if (cp.seq >= seq) raw.delCheckpoint(cp.seq);
}

function changed(raw: RawAudit, at: number): void {
  const entry = raw.get(at);
  if (entry === undefined) throw new Error(`no entry ${at}`);
  raw.put(at, { ...entry, details: { ...entry.details, tampered: true } });
}

export const TAMPERS: readonly Tamper[] = [
  { name: 'edit an entry', shownBy: 'chain', signedPredecessor: false, codes: ['AUDIT_HASH'], apply: (raw, at) => changed(raw, at) },
  { name: 'delete an entry', shownBy: 'chain', signedPredecessor: false, codes: ['AUDIT_GAP', 'AUDIT_TRUNCATED'], apply: (raw, at) => raw.del(at) },
  {
    name: 'swap two entries',
    shownBy: 'chain',
    signedPredecessor: false,
    touchesNext: true,
    codes: ['AUDIT_SEQ'],
    apply: (raw, at) => {
      const [a, b] = [raw.get(at), raw.get(at + 1)];
      raw.put(at, b);
      raw.put(at + 1, a);
    },
  },
  {
    name: 'corrupt the bytes of an entry',
    shownBy: 'chain',
    signedPredecessor: false,
    codes: ['AUDIT_CORRUPT'],
    apply: (raw, at) => raw.raw('sys.audit', at, new SeededRandom(`corrupt/${at}`).bytes(40)),
  },
  {
    name: 'truncate the tail',
    shownBy: 'chain',
    signedPredecessor: false,
    codes: ['AUDIT_TRUNCATED'],
    apply: (raw, at) => {
      for (let seq = raw.last(); seq >= at; seq--) raw.del(seq);
    },
  },
  {
    name: 'truncate the tail and fix the head',
    shownBy: 'checkpoint',
    signedPredecessor: false,
    codes: ['AUDIT_TRUNCATED'],
    apply: (raw, at) => {
      for (let seq = raw.last(); seq >= at; seq--) raw.del(seq);
      raw.headPut({ seq: at - 1, hash: raw.get(at - 1)?.hash });
    },
  },
  {
    name: 'rewrite an entry and re-hash the chain after it',
    shownBy: 'checkpoint',
    signedPredecessor: true,
    codes: ['AUDIT_CHECKPOINT_HASH', 'AUDIT_WITNESS_HASH'],
    apply: (raw, at) => {
      changed(raw, at);
      raw.rechain(at);
    },
  },
  {
    name: 'delete an entry and renumber the rest',
    shownBy: 'checkpoint',
    signedPredecessor: true,
    codes: ['AUDIT_CHECKPOINT_HASH', 'AUDIT_WITNESS_HASH', 'AUDIT_TRUNCATED'],
    apply: (raw, at) => {
      const last = raw.last();
      for (let seq = at; seq < last; seq++) raw.put(seq, { ...raw.get(seq + 1), seq });
      raw.del(last);
      raw.rechain(at);
    },
  },
  {
    name: 'roll back to a signed head with the stolen store',
    shownBy: 'witness',
    signedPredecessor: false,
    codes: ['AUDIT_TRUNCATED'],
    apply: (raw, at) => {
      for (let seq = raw.last(); seq >= at; seq--) raw.del(seq);
      dropCheckpointsFrom(raw, at);
      raw.headPut({ seq: at - 1, hash: raw.get(at - 1)?.hash });
    },
  },
  {
    name: 'rewrite from an entry on with the stolen store',
    shownBy: 'witness',
    signedPredecessor: true,
    codes: ['AUDIT_WITNESS_HASH'],
    apply: (raw, at) => {
      changed(raw, at);
      raw.rechain(at);
      dropCheckpointsFrom(raw, at);
    },
  },
];

export interface Log {
  lastSeq: number;
  /** Entries whose checkpoint exists, oldest first. */
  signed: number[];
  lastWitnessedSeq: number;
  identity: string;
}

export interface World {
  dir: string;
  logs: Record<Device, Log>;
}

export function peerOf(device: Device): Device {
  return device === 'hsm-hot' ? 'hsm-cold' : 'hsm-hot';
}

/** Runs a world (channel, `withdrawals` before and after a restart of the rig) and reads its logs. */
export async function buildWorld(seed: string, withdrawals: number): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'hsm-tamper-'));
  for (const round of [0, 1]) {
    const rig = await testRig({ seed: round === 0 ? seed : undefined, stateDir: dir });
    try {
      if (round === 0) await channelOpen(rig);
      else await rig.waitFor(() => rig.vDevice?.currentChannel() !== undefined, 'the channel after the restart', 1_800_000);
      for (let i = 0; i < withdrawals; i++) {
        const id = rig.vweb.queueWithdrawal({ outs: `${PAYEE},${20_000 + round * 1000 + i}`, dynamic: 1 });
        await rig.waitFor(() => rig.vweb.withdrawal(id)?.state === 'done', `withdrawal ${id}`, 1_800_000);
      }
    } finally {
      await rig.stop();
    }
  }
  const logs = {} as World['logs'];
  for (const device of DEVICES) {
    const report = check(dir, device);
    if (!report.ok) throw new Error(`the untouched ${device} log does not verify: ${JSON.stringify(report.problems)}`);
    const store = DeviceStore.openForInspection(join(dir, device));
    try {
      const signed = [...store.range(SYSTEM_COLLECTIONS.auditCheckpoints)].map((e) => e.value.seq);
      logs[device] = { lastSeq: report.lastSeq, signed, lastWitnessedSeq: report.lastWitnessedSeq ?? 0, identity: report.identity as string };
    } finally {
      await store.close();
    }
  }
  return { dir, logs };
}

/** Verifies `device`'s log in `dir` with its identity pinned and its peer's witnessed heads. */
export function check(dir: string, device: Device, options: { witnesses?: boolean; identity?: string } = {}): AuditReport {
  const store = DeviceStore.openForInspection(join(dir, device));
  const peer = DeviceStore.openForInspection(join(dir, peerOf(device)));
  try {
    return verifyAudit(store, device, options.identity, options.witnesses === false ? [] : witnessedHeads(peer, device));
  } finally {
    void store.close();
    void peer.close();
  }
}

/** The entries of `log` at which `tamper` must be found and named exactly. */
export function candidates(log: Log, tamper: Tamper): number[] {
  const signed = new Set(log.signed);
  const limit = { chain: log.lastSeq, checkpoint: log.signed.at(-1) ?? 0, witness: log.lastWitnessedSeq }[tamper.shownBy];
  const out: number[] = [];
  for (let seq = 2; seq <= Math.min(limit, tamper.touchesNext === true ? log.lastSeq - 1 : log.lastSeq); seq++) {
    if (!tamper.signedPredecessor || signed.has(seq - 1)) out.push(seq);
  }
  return out;
}

/**
 * The entry verification must name for `tamper` at `at`: `at` itself, unless the tamper moves a
 * checkpointed entry (a swap touching it). Its checkpoint then contradicts the log, and nothing
 * after the previous checkpoint is covered by a matching signature any more: verification names
 * the first entry of that span (shared/store/audit.ts, "the first not covered").
 */
export function firstUntrusted(log: Log, tamper: Tamper, at: number): number {
  if (tamper.touchesNext !== true) return at;
  const moved = [at, at + 1].find((seq) => log.signed.includes(seq));
  if (moved === undefined) return at;
  return Math.max(0, ...log.signed.filter((seq) => seq < moved)) + 1;
}

/** `count` of `tamper`'s candidate entries, spread from the first to the last. */
export function positions(log: Log, tamper: Tamper, count: number): number[] {
  const all = candidates(log, tamper);
  if (all.length < count) throw new Error(`only ${all.length} entries to ${tamper.name} at; ${count} wanted`);
  return Array.from({ length: count }, (_, i) => all[Math.round((i * (all.length - 1)) / Math.max(1, count - 1))] as number);
}

/** A copy of the world's two state directories with `tamper` applied to `device` at `at`. */
export async function tampered(world: World, device: Device, tamper: Tamper, at: number): Promise<string> {
  const dir = mkdtempSync(join(world.dir, 'case-'));
  for (const d of DEVICES) cpSync(join(world.dir, d), join(dir, d), { recursive: true });
  await editAudit(join(dir, device), (raw) => tamper.apply(raw, at));
  return dir;
}

/**
 * Applies every kind at `count` entries of `device`'s log and expects each found and its
 * entry named; a kind that leaves the log consistent must pass a check of the log alone
 * (only the peer's witnessed heads show it), and the peer's log stays whole. Returns the cases run.
 */
export async function expectEveryTamperingNamed(world: World, device: Device, count: number): Promise<number> {
  const log = world.logs[device];
  let cases = 0;
  for (const tamper of TAMPERS) {
    for (const at of positions(log, tamper, count)) {
      const label = `${tamper.name} at entry ${at} of ${log.lastSeq}`;
      const dir = await tampered(world, device, tamper, at);
      const report = check(dir, device, { identity: log.identity });
      expect(report.ok, label).toBe(false);
      expect(report.firstBadSeq, label).toBe(firstUntrusted(log, tamper, at));
      expect(tamper.codes, label).toContain(report.problems.find((p) => p.seq === at)?.code);
      if (tamper.shownBy === 'witness') expect(check(dir, device, { identity: log.identity, witnesses: false }).ok, label).toBe(true);
      expect(check(dir, peerOf(device)).ok, `${label}: the peer's log`).toBe(true);
      rmSync(dir, { recursive: true, force: true });
      cases++;
    }
  }
  return cases;
}
