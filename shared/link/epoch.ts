/**
 * Boot epochs: a counter persisted in the store and incremented, durably, once per boot before
 * the link uses it. Frames name both sides' epochs, so a frame from before a reboot can never
 * be mistaken for one of the current session (notes/serial-link.md §1, step 1).
 * @module
 */
import { z } from 'zod';
import { HsmError } from '../errors.ts';
import { defineCollection } from '../store/collection.ts';
import type { DeviceStore } from '../store/store.ts';

/** The highest epoch a boot may take; 0xffffffff is reserved for the keyless link probe (probe.ts). */
export const MAX_BOOT_EPOCH = 0xfffffffe;

export const linkEpochCollection = defineCollection('link.epoch', z.strictObject({ epoch: z.number().int().min(0).max(0xffffffff) }));

/** Increments and returns this boot's epoch (1 on the first boot). */
export function nextBootEpoch(store: DeviceStore): number {
  return store.transact((tx) => {
    const previous = tx.get(linkEpochCollection, 'boot')?.epoch ?? 0;
    if (previous >= MAX_BOOT_EPOCH) throw new HsmError('LINK_EPOCH', 'boot epochs are exhausted');
    const epoch = previous + 1;
    tx.put(linkEpochCollection, 'boot', { epoch });
    tx.audit('link.boot', { epoch });
    return epoch;
  });
}
