// Run by the emulated ARM node (test/arm/): exercises the native packages of an install that
// the ARM node made (npm ci), through the compiled modules that use them. Plain JavaScript:
// nothing on the ARM side may need a TypeScript loader.
//
//   node bindings.mjs <app> store-writer <dir>   commits a transaction after another, printing
//                                                "committed <n>" after each, until killed
//   node bindings.mjs <app> store-check <dir>    reopens the store: {"committed": n, ...}
//   node bindings.mjs <app> msgpack <seed>       round trips through msgpackr: {"roundTrips", "native"}
//   node bindings.mjs <app> serial-echo <pty> <n> echoes n bytes (each XOR 0xFF) on a serial port
//
// Each prints, last, {"natives": [...]}: the native addons (.node files) this process mapped,
// from /proc/self/maps, which qemu-user fills with the ARM program's own mappings.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [app, command, ...args] = process.argv.slice(2);
const require = createRequire(join(app, 'package.json'));
/** A module of the install: its compiled code (`dist/...`) or one of its packages. */
const load = (specifier) => import(specifier.startsWith('dist/') ? pathToFileURL(join(app, specifier)).href : pathToFileURL(require.resolve(specifier)).href);
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

function natives() {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  const files = maps.map((line) => line.split(/\s+/)[5] ?? '').filter((path) => path.endsWith('.node'));
  return [...new Set(files)].map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
}

/** The store the probes share: counted records, each 4 KiB derived from its number. */
async function openStore(dir) {
  const { z } = await load('zod');
  const { DeviceStore, defineCollection } = await load('dist/shared/store/store.js');
  const records = defineCollection('probe.records', z.strictObject({ n: z.number().int(), bytes: z.instanceof(Uint8Array) }));
  const counter = defineCollection('probe.counter', z.strictObject({ n: z.number().int() }));
  const store = DeviceStore.open(dir, { app: 'arm-probe', schemaVersion: 1, collections: [records, counter] });
  return { store, records, counter };
}

function recordBytes(n) {
  const out = new Uint8Array(4096);
  for (let i = 0; i < 4096; i += 32) out.set(createHash('sha256').update(`${n}/${i}`).digest(), i);
  return out;
}

async function storeWriter(dir) {
  const { store, records, counter } = await openStore(dir);
  let n = store.get(counter, 'n')?.n ?? 0;
  print({ started: n });
  for (;;) {
    const next = n + 1;
    store.transact((tx) => {
      tx.put(records, next, { n: next, bytes: recordBytes(next) });
      tx.put(counter, 'n', { n: next });
      tx.audit('probe.record', { n: next });
    });
    n = next;
    process.stdout.write(`committed ${n}\n`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function storeCheck(dir) {
  const { store, records, counter } = await openStore(dir);
  const { verifyAudit } = await load('dist/shared/store/audit.js');
  const committed = store.get(counter, 'n')?.n ?? 0;
  const bad = [];
  for (let n = 1; n <= committed; n++) {
    const record = store.get(records, n);
    if (record === undefined || Buffer.compare(Buffer.from(record.bytes), Buffer.from(recordBytes(n))) !== 0) bad.push(n);
  }
  const beyond = [...store.range(records, { start: committed + 1 })].length;
  const audit = verifyAudit(store, 'arm-probe');
  await store.close();
  print({ committed, bad, beyond, auditProblems: audit.problems, auditEntries: audit.entries });
}

async function msgpack(seed) {
  const msgpackr = await load('msgpackr');
  const { Packr } = msgpackr;
  const packr = new Packr({ useRecords: false, moreTypes: true });
  let state = createHash('sha256').update(seed).digest();
  const rand = () => {
    state = createHash('sha256').update(state).digest();
    return state.readUInt32BE(0);
  };
  let roundTrips = 0;
  for (let i = 0; i < 200; i++) {
    // Strings long enough that msgpackr hands them to the native extractor.
    const value = {
      id: rand(),
      negative: -rand(),
      float: rand() / 7,
      big: BigInt(rand()) * 4294967296n + BigInt(rand()),
      text: 'é€😀'.repeat(1 + (rand() % 40)) + String(rand()),
      words: Array.from({ length: 1 + (rand() % 20) }, () => `word-${rand().toString(36)}`),
      bytes: Uint8Array.from({ length: rand() % 300 }, () => rand() & 0xff),
      nested: { ok: rand() % 2 === 0, none: null, list: [1, 'two', 3.5] },
    };
    const decoded = packr.unpack(packr.pack(value));
    if (JSON.stringify(decoded, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v)) !== JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v))) {
      throw new Error(`round trip ${i} changed the value`);
    }
    roundTrips++;
  }
  print({ roundTrips, native: msgpackr.isNativeAccelerationEnabled });
}

async function serialEcho(path, count) {
  const { openSerialPort } = await load('dist/shared/port.js');
  const port = await openSerialPort({ path, baudRate: 115200 });
  let left = Number(count);
  await new Promise((resolve) => {
    port.onData((chunk) => {
      port.write(chunk.map((b) => b ^ 0xff));
      left -= chunk.length;
      if (left <= 0) resolve();
    });
    print({ open: path });
  });
  await port.drain();
  await port.close();
  print({ echoed: Number(count) });
}

const commands = {
  'store-writer': () => storeWriter(args[0]),
  'store-check': () => storeCheck(args[0]),
  msgpack: () => msgpack(args[0] ?? 'seed'),
  'serial-echo': () => serialEcho(args[0], args[1]),
};
if (commands[command] === undefined) throw new Error(`unknown command ${command}`);
await commands[command]();
print({ arch: process.arch, natives: natives() });
