/**
 * 10,000 seeded random inputs to HSM-Cold's console (5,000 logged out, 5,000 logged in with
 * 2FA on): printable lines, mutated command lines, over-long lines, byte bursts with control
 * bytes, escape sequences and invalid UTF-8. Most inputs are let run to completion, one in ten
 * is typed ahead of whatever still runs. Nothing may crash, and the device must not change.
 *
 * What may change, and nothing else:
 * - the console's operator record: its failure counters, backoff and lockout times, and the
 *   last TOTP step (the password verifier, the sealed secret and the settings stay as they were);
 * - the audit log, with console entries of these kinds only: auth-failed, 2fa-failed,
 *   locked-out, login and logout (the fuzzer logs in again whenever it was logged out);
 * - what runs by itself while the simulated clock moves (the modem pool, the link's request
 *   tables, the time samples and their alert flag); those collections are left out of the
 *   comparison, and audit entries other than the console's are not checked.
 * Afterwards the console still logs in and runs a command.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { COLD_COLLECTIONS } from '../../hsm-cold/main.ts';
import { CONSOLE_OPERATOR } from '../../shared/console/operator.ts';
import { SeededRandom } from '../../shared/random.ts';
import { auditHead } from '../../shared/store/audit.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import type { ArgSpec } from '../../shared/console/arguments.ts';
import { ColdConsoleRig, PASSWORD } from '../console/cold-rig.ts';
import { isAuditBookkeeping, storeSnapshot } from '../console/store-snapshot.ts';

const ITEMS_PER_PHASE = 5_000;
const STEP_MS = 100;

/** HSM-Cold's state: everything but the console record, the audit log (and its bookkeeping) and what moves by itself. */
const DEVICE_STATE = COLD_COLLECTIONS.filter(
  (c) =>
    !c.name.startsWith('console.') &&
    !c.name.startsWith('gsm.') &&
    !c.name.startsWith('rpc.') &&
    c.name !== 'cold.time-samples' &&
    c.name !== 'cold.time-alert' &&
    !isAuditBookkeeping(c),
);
const ALLOWED_CONSOLE_AUDIT = new Set(['console.auth-failed', 'console.2fa-failed', 'console.locked-out', 'console.login', 'console.logout']);

const ESCAPES = ['\x1b[A', '\x1b[B', '\x1b[C', '\x1b[D', '\x1b[1;5C', '\x1bOP', '\x1b[200~', '\x1b[3~', '\x1b', '\x1b[', '\x1b[99999999999999999999999999999999999999999m', '\x1bx', '\x9b31m'];
const CONTROLS = [0x03, 0x04, 0x08, 0x7f, 0x15, 0x17, 0x0d, 0x0a, 0x00, 0x07, 0x09, 0x1a, 0x1c];

function printable(random: SeededRandom, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(random.between(0x20, 0x7e));
  return out;
}

function argValue(random: SeededRandom, spec: ArgSpec): string {
  if (random.chance(0.15)) return printable(random, random.between(1, 12)).replace(/ /g, '_');
  switch (spec.kind) {
    case 'int':
      return String(random.chance(0.7) ? random.between(spec.min, Math.min(spec.max, spec.min + 50)) : random.between(spec.min - 5, spec.min - 1));
    case 'enum':
      return random.pick(spec.values);
    case 'word':
      return random.pick(['BTC', 'ltc', '0', '123456', '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY', 'deadbeef', 'login', 'on', 'off']);
  }
}

function mutate(random: SeededRandom, line: string): string {
  let out = line;
  const edits = random.between(0, 3);
  for (let i = 0; i < edits; i++) {
    const at = random.int(out.length + 1);
    switch (random.int(4)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1);
        break;
      case 1:
        out = out.slice(0, at) + printable(random, 1) + out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + String.fromCharCode(random.pick(CONTROLS)) + out.slice(at);
        break;
      default:
        out = out.toUpperCase();
    }
  }
  return out;
}

function commandLine(random: SeededRandom, commands: ReadonlyArray<{ path: string; args?: readonly ArgSpec[] }>): string {
  const spec = random.pick(commands);
  const args = (spec.args ?? []).filter((a) => !a.optional || random.chance(0.5)).map((a) => argValue(random, a));
  const line = [spec.path, ...args].join(' ');
  return random.chance(0.4) ? mutate(random, line) : line;
}

function lineEnd(random: SeededRandom): string {
  return random.pick(['\r', '\n', '\r\n', '\r\r', '\n\r']);
}

function burst(random: SeededRandom): Uint8Array {
  const parts: number[] = [];
  const length = random.between(1, 512);
  while (parts.length < length) {
    const r = random.int(10);
    if (r < 5) parts.push(...random.bytes(random.between(1, 16)));
    else if (r < 7) parts.push(...Buffer.from(random.pick(ESCAPES), 'latin1'));
    else if (r < 9) parts.push(random.pick(CONTROLS));
    else parts.push(0xc3, 0x28, 0xe2, 0x82, 0xff, 0xfe, 0xed, 0xa0, 0x80);
  }
  return Uint8Array.from(parts.slice(0, length));
}

function fuzzInput(random: SeededRandom, commands: ReadonlyArray<{ path: string; args?: readonly ArgSpec[] }>): Uint8Array {
  const kind = random.int(100);
  if (kind < 20) return Buffer.from(printable(random, random.between(0, 80)) + lineEnd(random), 'latin1');
  if (kind < 50) return Buffer.from(commandLine(random, commands) + lineEnd(random), 'latin1');
  if (kind < 55) return Buffer.from((random.chance(0.5) ? printable(random, random.between(513, 5000)) : Buffer.from(random.bytes(random.between(513, 5000))).toString('latin1')) + lineEnd(random), 'latin1');
  if (kind < 80) return burst(random);
  if (kind < 90) return Buffer.from(Array.from({ length: random.between(1, 8) }, () => random.pick(ESCAPES)).join('') + (random.chance(0.5) ? lineEnd(random) : ''), 'latin1');
  return Uint8Array.from(Array.from({ length: random.between(1, 12) }, () => random.pick(CONTROLS)));
}

let rig: ColdConsoleRig | undefined;
afterEach(async () => {
  await rig?.shutdown();
  rig = undefined;
});

describe('console fuzzing', () => {
  it('10,000 random lines and byte bursts: no crash, HSM-Cold unchanged, the console still works', async () => {
    const r = (rig = await ColdConsoleRig.create({ seed: 'console-fuzz-world' }));
    const random = new SeededRandom('console-fuzz');
    const store = r.world.cold.store;
    const commands = r.server.registry.list();
    const deviceBefore = storeSnapshot(store, DEVICE_STATE);
    const operatorBefore = store.get(CONSOLE_OPERATOR, 'operator')!;
    const auditBefore = auditHead(store).seq;
    const stats = { items: 0, bytes: 0, relogins: 0, lockouts: 0 };

    const pace = random.fork('pace');
    /** Types one input; most are let run to completion, some are typed ahead of a running command. */
    const feed = async (chunk: Uint8Array): Promise<void> => {
      r.port.type(chunk);
      stats.items++;
      stats.bytes += chunk.length;
      await r.clock.advance(STEP_MS);
      if (pace.chance(0.9)) await r.settle('a fuzz input');
    };
    /** Clears the line and any question, waits out a backoff or lockout, and logs in through the port. */
    const relogin = async (): Promise<void> => {
      r.port.type('\x03');
      await r.settle('^C');
      if (r.session.asking !== undefined) {
        r.port.type('\x03');
        await r.settle('^C');
      }
      const record = store.get(CONSOLE_OPERATOR, 'operator')!;
      const wait = Math.max(record.lockedUntil ?? 0, record.notBefore ?? 0) - r.clock.now();
      if (record.lockedUntil !== undefined && wait > 0) stats.lockouts++;
      if (wait > 0) await r.clock.advance(wait + 1);
      const asked = await r.enter('login');
      if (r.session.asking !== 'password: ') throw new Error(`login did not ask for the password: ${JSON.stringify(asked.slice(-600))}`);
      const out = await r.enter(PASSWORD);
      if (!r.session.loggedIn) throw new Error(`could not log in again: ${out}`);
      stats.relogins++;
    };

    for (let i = 0; i < ITEMS_PER_PHASE; i++) await feed(fuzzInput(random, commands));
    expect(r.session.loggedIn).toBe(false);
    await relogin();
    for (let i = 0; i < ITEMS_PER_PHASE; i++) {
      if (!r.session.loggedIn) {
        await r.settle('a fuzz input');
        if (!r.session.loggedIn) await relogin();
      }
      await feed(fuzzInput(random, commands));
    }
    expect(stats.items).toBe(2 * ITEMS_PER_PHASE);

    // Still usable: log in if needed and run a command.
    await r.settle('the last fuzz input');
    if (!r.session.loggedIn) await relogin();
    r.port.type('\x03');
    await r.settle('^C');
    r.fresh();
    const status = await r.enter('status');
    expect(status).toMatch(/state {9}running \{link:up, modems:usable/);
    expect(r.world.cold.snapshot.matches({ running: { link: 'up' } })).toBe(true);
    expect(r.world.cold.vault.state).toBe('unlocked');

    // HSM-Cold did not change.
    expect(storeSnapshot(store, DEVICE_STATE)).toEqual(deviceBefore);
    // The operator record changed only in its counters and the last TOTP step.
    const operatorAfter = store.get(CONSOLE_OPERATOR, 'operator')!;
    const fixed = (o: typeof operatorAfter) => ({ kdf: o.kdf, verifier: o.verifier, createdAt: o.createdAt, passwordChangedAt: o.passwordChangedAt, sealed: o.totp?.sealed, settings: o.totp?.settings });
    expect(fixed(operatorAfter)).toEqual(fixed(operatorBefore));
    // Audit entries the console added are of the allowed kinds only.
    const added = [...store.range(SYSTEM_COLLECTIONS.audit, { start: auditBefore + 1 })].map((e) => e.value);
    const consoleKinds = new Set(added.filter((e) => e.kind.startsWith('console.')).map((e) => e.kind));
    expect([...consoleKinds].filter((k) => !ALLOWED_CONSOLE_AUDIT.has(k))).toEqual([]);
    expect(added.some((e) => JSON.stringify(e).includes(PASSWORD))).toBe(false);
    expect(stats.relogins).toBeGreaterThan(1);
    console.info(`console fuzz: ${stats.items} inputs, ${stats.bytes} bytes, ${stats.relogins} logins, ${stats.lockouts} lockouts waited out; audit kinds added: ${[...new Set(added.map((e) => e.kind))].sort().join(', ')}`);
  }, 300_000);
});
