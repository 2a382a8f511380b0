/**
 * The device store: the only way firmware persists anything (DESIGN.md, rules 5 and 7).
 *
 * One LMDB environment per device (`<state-dir>/store.mdb`), one named database per typed
 * collection. Writes happen only inside `transact()`, which runs the callback in one LMDB write
 * transaction and commits it durably (synchronous fsync, `overlappingSync: false`) before
 * returning: after `transact()` returns, the change survives a crash or a power cut; if the
 * callback throws, nothing of it is written. Audit entries are appended in the same
 * transaction as the change they record (`tx.audit()`).
 *
 * Values are msgpack (`useRecords: false`) and are validated against the collection's zod
 * schema on every write and every read, so a damaged or edited record is reported, not used.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { Packr } from 'msgpackr';
import type { z } from 'zod';
import { RealClock, type Clock } from '../clock.ts';
import { HsmError } from '../errors.ts';
import { formatKey, type CollectionDef, type StoreKey } from './collection.ts';
import { appendAuditEntry, type AuditDetails, type AuditEntry } from './audit.ts';
import { SYSTEM_COLLECTIONS, META_KEYS, storeMetaSchema, type StoreMeta } from './system-collections.ts';

export { defineCollection, type CollectionDef, type StoreKey } from './collection.ts';

export interface RangeOptions {
  start?: StoreKey;
  end?: StoreKey;
  reverse?: boolean;
  limit?: number;
}

export interface Entry<V> {
  key: StoreKey;
  value: V;
}

export interface ReadView {
  get<V>(collection: CollectionDef<V>, key: StoreKey): V | undefined;
  has(collection: CollectionDef<unknown>, key: StoreKey): boolean;
  /** Entries in key order (lazily decoded and validated). */
  range<V>(collection: CollectionDef<V>, options?: RangeOptions): IterableIterator<Entry<V>>;
  /** Keys in order, without reading the values (a damaged value does not stop the walk). */
  keys(collection: CollectionDef<unknown>, options?: RangeOptions): IterableIterator<StoreKey>;
  count(collection: CollectionDef<unknown>): number;
}

export interface WriteTx extends ReadView {
  put<V>(collection: CollectionDef<V>, key: StoreKey, value: V): void;
  /** Deletes `key`; returns whether it existed. */
  del(collection: CollectionDef<unknown>, key: StoreKey): boolean;
  /** Appends an audit entry to the hash chain, in this transaction. */
  audit(kind: string, details?: AuditDetails): AuditEntry;
  /** Runs `fn` after the transaction has committed durably (never if it aborts). */
  afterCommit(fn: () => void): void;
  /**
   * Runs the audit hooks (`onAuditAppended`) now for the entries appended so far, instead of
   * only at the end: for a step that is about to destroy what a hook needs (the vault's erase
   * signs the head before the identity key goes).
   */
  sealAudit(): void;
}

/**
 * Runs inside every transaction that appended audit entries, just before it commits, with the
 * entries appended since the hooks last ran. Hooks may write records but not audit entries.
 */
export type AuditHook = (tx: WriteTx, appended: readonly AuditEntry[]) => void;

export interface Migration {
  /** The application schema version this migration produces. */
  to: number;
  description: string;
  up(tx: WriteTx): void;
}

export interface StoreOptions {
  /**
   * The collections this firmware uses. LMDB databases must be opened outside write
   * transactions (a database first opened inside a transaction that aborts is lost), so every
   * collection is opened here, before any transaction.
   */
  collections?: ReadonlyArray<CollectionDef<unknown>>;
  /** Which firmware owns the store (`hsm-hot`, `hsm-cold`, `test`...). Opening another's store fails. */
  app: string;
  /** Current application schema version; older stores are migrated, newer ones refused. */
  schemaVersion: number;
  migrations?: readonly Migration[];
  clock?: Clock;
  readOnly?: boolean;
  /** Largest size the store may grow to (bytes). Default 1 GiB. */
  mapSize?: number;
}

/** Version of the store's own layout (system collections, audit chain format). */
export const STORE_FORMAT = 1;
export const STORE_FILE = 'store.mdb';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', moreTypes: false });

export class DeviceStore implements ReadView {
  readonly dir: string;
  readonly clock: Clock;
  private readonly root: RootDatabase;
  private readonly dbs = new Map<string, Database<Buffer, StoreKey>>();
  private activeTx: TxImpl | undefined;
  private closed = false;
  private readonly auditHooks: AuditHook[] = [];

  private constructor(dir: string, root: RootDatabase, clock: Clock) {
    this.dir = dir;
    this.root = root;
    this.clock = clock;
  }

  /** Opens (creating if needed) the store in `dir`, migrating it to `options.schemaVersion`. */
  static open(dir: string, options: StoreOptions): DeviceStore {
    if (!options.readOnly) mkdirSync(dir, { recursive: true, mode: 0o700 });
    let root: RootDatabase;
    try {
      root = open({
        path: join(dir, STORE_FILE),
        maxDbs: 64,
        encoding: 'binary',
        overlappingSync: false,
        readOnly: options.readOnly ?? false,
        mapSize: options.mapSize ?? 1024 ** 3,
        compression: false,
      });
    } catch (cause) {
      throw new HsmError('STORE_OPEN', `cannot open the device store in ${dir}: ${(cause as Error).message}`, { cause });
    }
    const store = new DeviceStore(dir, root, options.clock ?? new RealClock());
    try {
      for (const c of [...Object.values(SYSTEM_COLLECTIONS), ...(options.collections ?? [])]) store.db(c);
      store.initialise(options);
    } catch (error) {
      void root.close();
      throw error;
    }
    return store;
  }

  /**
   * Opens an existing store read-only whatever firmware owns it, for offline tools
   * (`hsm audit verify`). No migration runs; the header must be readable.
   */
  static openForInspection(dir: string, clock?: Clock): DeviceStore {
    if (!existsSync(join(dir, STORE_FILE))) throw new HsmError('STORE_MISSING', `no device store in ${dir} (expected ${STORE_FILE})`);
    let root: RootDatabase;
    try {
      root = open({ path: join(dir, STORE_FILE), maxDbs: 64, encoding: 'binary', readOnly: true, compression: false });
    } catch (cause) {
      throw new HsmError('STORE_OPEN', `cannot open a device store in ${dir}: ${(cause as Error).message}`, { cause });
    }
    const store = new DeviceStore(dir, root, clock ?? new RealClock());
    if (store.get(SYSTEM_COLLECTIONS.meta, META_KEYS.store) === undefined) {
      void root.close();
      throw new HsmError('STORE_UNINITIALISED', `no device store in ${dir}`);
    }
    return store;
  }

  get meta(): StoreMeta {
    const meta = this.get(SYSTEM_COLLECTIONS.meta, META_KEYS.store);
    if (meta === undefined) throw new HsmError('STORE_UNINITIALISED', 'the store has no header record');
    return storeMetaSchema.parse(meta);
  }

  get<V>(collection: CollectionDef<V>, key: StoreKey): V | undefined {
    const raw = this.db(collection).getBinary(key as never);
    return raw === undefined ? undefined : decodeValue(collection, key, raw);
  }

  has(collection: CollectionDef<unknown>, key: StoreKey): boolean {
    return this.db(collection).doesExist(key as never);
  }

  *range<V>(collection: CollectionDef<V>, options: RangeOptions = {}): IterableIterator<Entry<V>> {
    for (const { key, value } of this.db(collection).getRange(options as never)) {
      yield { key: key as StoreKey, value: decodeValue(collection, key as StoreKey, value) };
    }
  }

  *keys(collection: CollectionDef<unknown>, options: RangeOptions = {}): IterableIterator<StoreKey> {
    for (const key of this.db(collection).getKeys(options as never)) yield key as StoreKey;
  }

  count(collection: CollectionDef<unknown>): number {
    return this.db(collection).getCount();
  }

  /**
   * Registers `hook` to run inside every transaction that appends audit entries, before it
   * commits, in the order hooks were registered (audit-seal.ts signs the head this way).
   * Returns a function that removes it.
   */
  onAuditAppended(hook: AuditHook): () => void {
    this.auditHooks.push(hook);
    return () => {
      const at = this.auditHooks.indexOf(hook);
      if (at >= 0) this.auditHooks.splice(at, 1);
    };
  }

  /** @internal runs the audit hooks for what `tx` appended since they last ran. */
  runAuditHooks(tx: TxImpl): void {
    const appended = tx.appended.splice(0);
    if (appended.length === 0) return;
    for (const hook of [...this.auditHooks]) hook(tx, appended);
    if (tx.appended.length > 0) throw new Error('invariant failed: an audit hook appended audit entries');
  }

  /**
   * Runs `fn` as one atomic, durable transaction. Nested calls join the outer transaction.
   * `fn` must be synchronous; everything it writes commits together or not at all.
   */
  transact<T>(fn: (tx: WriteTx) => T): T {
    this.assertOpen();
    if (this.activeTx !== undefined) return fn(this.activeTx);
    const tx = new TxImpl(this);
    this.activeTx = tx;
    let result: T;
    try {
      result = this.root.transactionSync(() => {
        const value = fn(tx);
        if (value instanceof Promise) throw new Error('invariant failed: transact() callbacks must be synchronous');
        this.runAuditHooks(tx);
        return value;
      }) as T;
    } finally {
      this.activeTx = undefined;
      tx.finished = true;
    }
    for (const hook of tx.hooks) hook();
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal raw access for TxImpl */
  db(collection: CollectionDef<unknown>): Database<Buffer, StoreKey> {
    this.assertOpen();
    let db = this.dbs.get(collection.name);
    if (db === undefined) {
      if (this.activeTx !== undefined) {
        throw new Error(`invariant failed: collection "${collection.name}" was not declared when the store was opened`);
      }
      db = this.root.openDB<Buffer, StoreKey>({ name: collection.name, encoding: 'binary' });
      this.dbs.set(collection.name, db);
    }
    return db;
  }

  private assertOpen(): void {
    if (this.closed) throw new HsmError('STORE_CLOSED', 'the device store is closed');
  }

  private initialise(options: StoreOptions): void {
    const existing = this.get(SYSTEM_COLLECTIONS.meta, META_KEYS.store);
    if (existing === undefined) {
      if (options.readOnly) throw new HsmError('STORE_UNINITIALISED', `no device store in ${this.dir}`);
      this.transact((tx) => {
        tx.put(SYSTEM_COLLECTIONS.meta, META_KEYS.store, {
          format: STORE_FORMAT,
          app: options.app,
          schemaVersion: options.schemaVersion,
          createdAt: this.clock.now(),
        });
        tx.audit('store.created', { app: options.app, schemaVersion: options.schemaVersion });
      });
      return;
    }
    const meta = storeMetaSchema.parse(existing);
    if (meta.format !== STORE_FORMAT) {
      throw new HsmError('STORE_FORMAT', `store format ${meta.format} is not supported (this build reads format ${STORE_FORMAT})`);
    }
    if (meta.app !== options.app) {
      throw new HsmError('STORE_WRONG_DEVICE', `the store in ${this.dir} belongs to ${meta.app}, not ${options.app}`);
    }
    if (meta.schemaVersion > options.schemaVersion) {
      throw new HsmError(
        'STORE_TOO_NEW',
        `the store has schema version ${meta.schemaVersion}, newer than this firmware's ${options.schemaVersion}; refusing to downgrade`,
      );
    }
    if (meta.schemaVersion < options.schemaVersion) {
      if (options.readOnly) {
        throw new HsmError('STORE_NEEDS_MIGRATION', `the store has schema version ${meta.schemaVersion}; open it read-write to migrate`);
      }
      this.migrate(meta, options);
    }
  }

  private migrate(meta: StoreMeta, options: StoreOptions): void {
    // Plan every step before applying one, so a missing step changes nothing.
    const plan: Migration[] = [];
    for (let version = meta.schemaVersion; version < options.schemaVersion; version++) {
      const step = options.migrations?.find((m) => m.to === version + 1);
      if (step === undefined) {
        throw new HsmError('STORE_NO_MIGRATION', `no migration from schema version ${version} to ${version + 1}; the store was not changed`);
      }
      plan.push(step);
    }
    for (const step of plan) {
      this.transact((tx) => {
        const from = storeMetaSchema.parse(tx.get(SYSTEM_COLLECTIONS.meta, META_KEYS.store)).schemaVersion;
        step.up(tx);
        tx.put(SYSTEM_COLLECTIONS.meta, META_KEYS.store, { ...meta, schemaVersion: step.to });
        tx.audit('store.migrated', { from, to: step.to, description: step.description });
      });
    }
  }
}

class TxImpl implements WriteTx {
  readonly hooks: Array<() => void> = [];
  /** Audit entries appended since the audit hooks last ran. */
  readonly appended: AuditEntry[] = [];
  finished = false;

  constructor(private readonly store: DeviceStore) {}

  get<V>(collection: CollectionDef<V>, key: StoreKey): V | undefined {
    return this.store.get(collection, key);
  }

  has(collection: CollectionDef<unknown>, key: StoreKey): boolean {
    return this.store.has(collection, key);
  }

  range<V>(collection: CollectionDef<V>, options?: RangeOptions): IterableIterator<Entry<V>> {
    return this.store.range(collection, options);
  }

  keys(collection: CollectionDef<unknown>, options?: RangeOptions): IterableIterator<StoreKey> {
    return this.store.keys(collection, options);
  }

  count(collection: CollectionDef<unknown>): number {
    return this.store.count(collection);
  }

  put<V>(collection: CollectionDef<V>, key: StoreKey, value: V): void {
    this.assertLive();
    const checked = collection.schema.safeParse(value);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const path = issue?.path.join('.') ?? '';
      throw new HsmError(
        'STORE_INVALID_VALUE',
        `refusing to write ${collection.name}[${formatKey(key)}]: ${path === '' ? '' : `${path}: `}${issue?.message ?? 'invalid'}`,
        { field: `${collection.name}${path === '' ? '' : `.${path}`}` },
      );
    }
    this.store.db(collection).putSync(key as never, packr.pack(checked.data));
  }

  del(collection: CollectionDef<unknown>, key: StoreKey): boolean {
    this.assertLive();
    return this.store.db(collection).removeSync(key as never);
  }

  audit(kind: string, details: AuditDetails = {}): AuditEntry {
    this.assertLive();
    const entry = appendAuditEntry(this, this.store.clock.now(), kind, details);
    this.appended.push(entry);
    return entry;
  }

  afterCommit(fn: () => void): void {
    this.hooks.push(fn);
  }

  sealAudit(): void {
    this.assertLive();
    this.store.runAuditHooks(this);
  }

  private assertLive(): void {
    if (this.finished) throw new Error('invariant failed: write after the transaction ended');
  }
}

function decodeValue<V>(collection: CollectionDef<V>, key: StoreKey, raw: Buffer): V {
  let decoded: unknown;
  try {
    decoded = packr.unpack(raw);
  } catch (cause) {
    throw new HsmError('STORE_CORRUPT', `${collection.name}[${formatKey(key)}] cannot be decoded`, { cause });
  }
  const checked = collection.schema.safeParse(decoded);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new HsmError(
      'STORE_CORRUPT',
      `${collection.name}[${formatKey(key)}] does not match its schema (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`,
    );
  }
  return checked.data;
}
