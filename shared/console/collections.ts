/**
 * The collections the console keeps in the device store. Firmware declares them when it opens
 * its store (LMDB databases are opened before any transaction; store.ts).
 * @module
 */
import type { CollectionDef } from '../store/collection.ts';
import { CONSOLE_OPERATOR } from './operator.ts';
import { CONSOLE_SELFTEST } from './selftest.ts';

export const CONSOLE_COLLECTIONS: ReadonlyArray<CollectionDef<unknown>> = [CONSOLE_OPERATOR, CONSOLE_SELFTEST] as ReadonlyArray<CollectionDef<unknown>>;
