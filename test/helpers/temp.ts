import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';

const created: string[] = [];
const createdForFile: string[] = [];

/** A fresh directory under the OS temp dir, removed after the current test. */
export function tempDir(prefix = 'hsm-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** A fresh directory under the OS temp dir that the file's tests share (a world started in `beforeAll`), removed after them. */
export function fileTempDir(prefix = 'hsm-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  createdForFile.push(dir);
  return dir;
}

/**
 * A fresh directory in memory (/dev/shm) where the machine has one, else under the OS temp dir.
 * For tests that model crashes and power cuts at the store's commit boundary and commit
 * thousands of times: the same LMDB store, without waiting on a shared disk's fsync.
 */
export function memoryTempDir(prefix = 'hsm-test-'): string {
  const dir = mkdtempSync(join(memoryRoot(), prefix));
  created.push(dir);
  return dir;
}

function memoryRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

afterEach(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

afterAll(() => {
  for (const dir of createdForFile.splice(0)) rmSync(dir, { recursive: true, force: true });
});
