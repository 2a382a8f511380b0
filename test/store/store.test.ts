import { describe, expect, it } from 'vitest';
import { open } from 'lmdb';
import { join } from 'node:path';
import { z } from 'zod';
import { SimulatedClock } from '../../shared/clock.ts';
import { DeviceStore, STORE_FILE, defineCollection, type Migration } from '../../shared/store/store.ts';
import { auditTail, verifyAudit } from '../../shared/store/audit.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { tempDir } from '../helpers/temp.ts';

const accounts = defineCollection('accounts', z.strictObject({ owner: z.string(), balance: z.number().int().nonnegative() }));
const notes = defineCollection('notes', z.string().max(100));

function openStore(dir: string, extra: Partial<Parameters<typeof DeviceStore.open>[1]> = {}): DeviceStore {
  return DeviceStore.open(dir, { app: 'test', schemaVersion: 1, clock: new SimulatedClock(), collections: [accounts, notes], ...extra });
}

describe('DeviceStore', () => {
  it('stores typed values and reads them back after reopening', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.transact((tx) => {
      tx.put(accounts, 'alice', { owner: 'Alice', balance: 10 });
      tx.put(accounts, ['bob', 2], { owner: 'Bob', balance: 5 });
      tx.put(notes, 1, 'first');
    });
    await store.close();
    const again = openStore(dir);
    expect(again.get(accounts, 'alice')).toEqual({ owner: 'Alice', balance: 10 });
    expect(again.get(accounts, ['bob', 2])).toEqual({ owner: 'Bob', balance: 5 });
    expect(again.get(notes, 1)).toBe('first');
    expect(again.has(notes, 2)).toBe(false);
    expect(again.count(accounts)).toBe(2);
    await again.close();
  });

  it('ranges in key order, forwards and backwards, with limits', async () => {
    const store = openStore(tempDir());
    store.transact((tx) => {
      for (const n of [5, 1, 3, 2, 4]) tx.put(notes, n, `n${n}`);
    });
    expect([...store.range(notes)].map((e) => e.key)).toEqual([1, 2, 3, 4, 5]);
    expect([...store.range(notes, { reverse: true, limit: 2 })].map((e) => e.value)).toEqual(['n5', 'n4']);
    expect([...store.range(notes, { start: 2, end: 4 })].map((e) => e.key)).toEqual([2, 3]);
    await store.close();
  });

  it('commits a transaction whole or not at all', async () => {
    const store = openStore(tempDir());
    store.transact((tx) => tx.put(accounts, 'alice', { owner: 'Alice', balance: 10 }));
    expect(() =>
      store.transact((tx) => {
        tx.put(accounts, 'alice', { owner: 'Alice', balance: 0 });
        tx.put(accounts, 'bob', { owner: 'Bob', balance: 10 });
        tx.audit('transfer', { from: 'alice', to: 'bob', amount: 10 });
        throw new Error('power cut in the middle');
      }),
    ).toThrow('power cut');
    expect(store.get(accounts, 'alice')).toEqual({ owner: 'Alice', balance: 10 });
    expect(store.get(accounts, 'bob')).toBeUndefined();
    expect(auditTail(store, 5).map((e) => e.kind)).toEqual(['store.created']);
    await store.close();
  });

  it('refuses values that break the schema, naming the field, and writes nothing of the transaction', async () => {
    const store = openStore(tempDir());
    const error = expectHsmError(
      () =>
        store.transact((tx) => {
          tx.put(notes, 1, 'kept?');
          tx.put(accounts, 'x', { owner: 'X', balance: -1 });
        }),
      'STORE_INVALID_VALUE',
      'accounts.balance',
    );
    expect(error.message).toContain('accounts[x]');
    expect(store.get(notes, 1)).toBeUndefined();
    expectHsmError(() => store.transact((tx) => tx.put(accounts, 'y', { owner: 'Y', balance: 1, extra: true } as never)), 'STORE_INVALID_VALUE');
    await store.close();
  });

  it('reports a record damaged on disk instead of using it', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.transact((tx) => tx.put(accounts, 'alice', { owner: 'Alice', balance: 10 }));
    await store.close();
    const raw = open({ path: join(dir, STORE_FILE), maxDbs: 64 });
    const db = raw.openDB({ name: 'accounts', encoding: 'binary' });
    db.putSync('alice', Buffer.from([0xc1, 0xff, 0x00]));
    db.putSync('bob', Buffer.from([0x81, 0xa1, 0x61, 0x01])); // {a: 1}: valid msgpack, wrong shape
    await raw.close();
    const again = openStore(dir);
    expectHsmError(() => again.get(accounts, 'alice'), 'STORE_CORRUPT');
    expectHsmError(() => again.get(accounts, 'bob'), 'STORE_CORRUPT');
    await again.close();
  });

  it('runs afterCommit hooks only after a commit', async () => {
    const store = openStore(tempDir());
    const seen: string[] = [];
    store.transact((tx) => {
      tx.put(notes, 1, 'a');
      tx.afterCommit(() => seen.push(`committed ${String(store.get(notes, 1))}`));
    });
    expect(() =>
      store.transact((tx) => {
        tx.afterCommit(() => seen.push('never'));
        throw new Error('abort');
      }),
    ).toThrow();
    expect(seen).toEqual(['committed a']);
    await store.close();
  });

  it('nested transact joins the outer transaction', async () => {
    const store = openStore(tempDir());
    expect(() =>
      store.transact((tx) => {
        tx.put(notes, 1, 'outer');
        store.transact((inner) => inner.put(notes, 2, 'inner'));
        throw new Error('abort both');
      }),
    ).toThrow();
    expect(store.count(notes)).toBe(0);
    await store.close();
  });

  it('refuses a collection that was not declared at open, inside a transaction', async () => {
    const store = openStore(tempDir());
    const undeclared = defineCollection('undeclared', z.number());
    expect(() => store.transact((tx) => tx.put(undeclared, 1, 1))).toThrow(/not declared/);
    await store.close();
  });

  it('refuses async transaction bodies', async () => {
    const store = openStore(tempDir());
    expect(() => store.transact(async () => undefined)).toThrow(/synchronous/);
    await store.close();
  });
});

describe('schema versions', () => {
  it('migrates an old store step by step, each step audited', async () => {
    const dir = tempDir();
    const v1 = openStore(dir);
    v1.transact((tx) => tx.put(notes, 1, 'hello'));
    await v1.close();
    const migrations: Migration[] = [
      { to: 2, description: 'upper-case notes', up: (tx) => tx.put(notes, 1, String(tx.get(notes, 1)).toUpperCase()) },
      { to: 3, description: 'add a second note', up: (tx) => tx.put(notes, 2, 'added') },
    ];
    const v3 = openStore(dir, { schemaVersion: 3, migrations });
    expect(v3.get(notes, 1)).toBe('HELLO');
    expect(v3.get(notes, 2)).toBe('added');
    expect(v3.meta.schemaVersion).toBe(3);
    expect(auditTail(v3, 2).map((e) => e.details)).toEqual([
      { from: 1, to: 2, description: 'upper-case notes' },
      { from: 2, to: 3, description: 'add a second note' },
    ]);
    expect(verifyAudit(v3, 'test').ok).toBe(true);
    await v3.close();
  });

  it('refuses a store from newer firmware, another device, or with a missing migration', async () => {
    const dir = tempDir();
    await openStore(dir, { schemaVersion: 5 }).close();
    expectHsmError(() => openStore(dir, { schemaVersion: 4 }), 'STORE_TOO_NEW');
    expectHsmError(() => openStore(dir, { app: 'hsm-hot', schemaVersion: 5 }), 'STORE_WRONG_DEVICE');
    expectHsmError(() => openStore(dir, { schemaVersion: 7, migrations: [{ to: 6, description: 'x', up: () => undefined }] }), 'STORE_NO_MIGRATION');
    expectHsmError(() => openStore(dir, { schemaVersion: 4 }), 'STORE_TOO_NEW'); // still 5: nothing was applied
    const ok = openStore(dir, { schemaVersion: 5 });
    expect(ok.meta.schemaVersion).toBe(5);
    await ok.close();
  });

  it('opens any store read-only for inspection, and says so when there is none', async () => {
    const dir = tempDir();
    await openStore(dir, { app: 'hsm-cold' }).close();
    const inspect = DeviceStore.openForInspection(dir);
    expect(inspect.meta.app).toBe('hsm-cold');
    await inspect.close();
    expectHsmError(() => DeviceStore.openForInspection(tempDir()), 'STORE_MISSING');
  });
});
