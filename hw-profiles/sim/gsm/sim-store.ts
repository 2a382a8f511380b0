/**
 * SIM files on disk: what a SIM card keeps between power cycles and between runs of the
 * emulator, one JSON file per IMSI in a directory. Today that is EF_SMSS's last TP-MR
 * (3GPP TS 31.102 §4.2.9), so message references go on where they stopped and a status report
 * is never matched to the wrong message after a restart.
 *
 * A file is replaced whole (written, synced, renamed), so a crash leaves the old or the new one.
 * A file that does not parse is an error naming it, never silently a fresh SIM.
 * @module
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { HsmError } from '../../../shared/errors.ts';
import type { SimStore } from './emulated-modem.ts';

const SIM_FILE = z.strictObject({ lastMessageReference: z.number().int().min(0).max(255) });

export class SimFileStore implements SimStore {
  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  lastMessageReference(imsi: string): number | undefined {
    const path = this.pathOf(imsi);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new HsmError('SIM_FILE', `cannot read ${path}: ${(error as Error).message}`, { field: 'stateDir' });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HsmError('SIM_FILE', `${path} is not JSON`, { field: 'lastMessageReference' });
    }
    const parsed = SIM_FILE.safeParse(json);
    if (!parsed.success) throw new HsmError('SIM_FILE', `${path}: lastMessageReference must be an integer 0-255`, { field: 'lastMessageReference' });
    return parsed.data.lastMessageReference;
  }

  saveMessageReference(imsi: string, messageReference: number): void {
    const path = this.pathOf(imsi);
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ lastMessageReference: messageReference })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  }

  private pathOf(imsi: string): string {
    if (!/^[0-9]{6,15}$/.test(imsi)) throw new HsmError('SIM_FILE', 'an IMSI is 6-15 digits', { field: 'imsi' });
    return join(this.directory, `sim-${imsi}.json`);
  }
}
