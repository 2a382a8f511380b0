/**
 * `vtest_info`, the encrypted withdrawal payload vweb hands the V-Device
 * (spec §"vtest_info"):
 *
 *   <ciphertext hex>/<iv hex>/<salt hex>        upper-case hex
 *   key    = scrypt(password as UTF-16BE, salt, N=16384, r=8, p=1, dkLen=32)
 *   cipher = AES-256-CBC, PKCS#7 padding
 *
 * A 9-byte salt field is one flags byte followed by the 8-byte salt; 8 bytes is the salt. The
 * app also splits on the older `:` separator, and an empty password setting means the field is
 * the plaintext itself (spec "What the released app does").
 * The plaintext is JSON with the app's snake_case keys: {"outs":"...","dynamic":0|1} plus
 * optional confirmed, coin_code (absent: BTC), out_type, memo, nonce, gas_price.
 * @module
 */
import { createCipheriv, createDecipheriv, scryptSync } from 'node:crypto';
import { z } from 'zod';
import { HsmError } from '../errors.ts';
import type { RandomSource } from '../random.ts';

export const VTEST_SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;
const MAX_VTEST_INFO_LENGTH = 65_536;
const UPPER_HEX = /^(?:[0-9A-F]{2})+$/;

const javaInt = z.number().int().nonnegative().max(2 ** 31 - 1);

export const vtestPayloadSchema = z.strictObject({
  outs: z.string().min(1).max(16_384),
  dynamic: z.union([z.literal(0), z.literal(1)]),
  /** Spend confirmed coins only (posted as only_confirmed; not signed). */
  confirmed: z.union([z.literal(0), z.literal(1)]).optional(),
  /** Absent means BTC. */
  coin_code: z.string().min(1).max(16).optional(),
  out_type: javaInt.optional(),
  memo: z.string().max(256).optional(),
  /** Account-based coins only (posted, not signed). */
  nonce: javaInt.optional(),
  gas_price: z.string().regex(/^[0-9]{1,30}$/, 'a decimal integer').optional(),
});
export type VtestPayload = z.infer<typeof vtestPayloadSchema>;

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) {
    const low = le[i] as number;
    le[i] = le[i + 1] as number;
    le[i + 1] = low;
  }
  return le;
}

function deriveKey(password: string, salt: Uint8Array): Buffer {
  return scryptSync(utf16be(password), salt, VTEST_SCRYPT.keyLength, {
    N: VTEST_SCRYPT.N,
    r: VTEST_SCRYPT.r,
    p: VTEST_SCRYPT.p,
    maxmem: 64 * 1024 * 1024,
  });
}

function hexField(text: string, name: string): Buffer {
  if (!UPPER_HEX.test(text)) {
    throw new HsmError('VTEST_FORMAT', `vtest_info ${name} must be upper-case hex`, { field: `vtest_info.${name}` });
  }
  return Buffer.from(text, 'hex');
}

/** Decrypts `vtest_info` to its plaintext (not yet parsed). */
export function decryptVtestText(vtestInfo: string, password: string): string {
  if (vtestInfo.length > MAX_VTEST_INFO_LENGTH) {
    throw new HsmError('VTEST_FORMAT', `vtest_info is longer than ${MAX_VTEST_INFO_LENGTH} characters`, { field: 'vtest_info' });
  }
  if (password === '') return vtestInfo; // the app's "no password" setting: plaintext JSON
  const parts = vtestInfo.split(vtestInfo.includes(':') ? ':' : '/');
  if (parts.length !== 3) {
    throw new HsmError('VTEST_FORMAT', `vtest_info must be ciphertext/iv/salt, got ${parts.length} part(s)`, { field: 'vtest_info' });
  }
  const ciphertext = hexField(parts[0] ?? '', 'ciphertext');
  const iv = hexField(parts[1] ?? '', 'iv');
  const saltField = hexField(parts[2] ?? '', 'salt');
  if (ciphertext.length % 16 !== 0) {
    throw new HsmError('VTEST_FORMAT', 'vtest_info ciphertext is not a whole number of AES blocks', { field: 'vtest_info.ciphertext' });
  }
  if (iv.length !== 16) throw new HsmError('VTEST_FORMAT', `vtest_info iv has ${iv.length} bytes, not 16`, { field: 'vtest_info.iv' });
  if (saltField.length !== 8 && saltField.length !== 9) {
    throw new HsmError('VTEST_FORMAT', `vtest_info salt has ${saltField.length} bytes, not 8 (or 9 with a flags byte)`, {
      field: 'vtest_info.salt',
    });
  }
  const salt = saltField.length === 9 ? saltField.subarray(1) : saltField;
  const key = deriveKey(password, salt);
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new HsmError('VTEST_DECRYPT', 'vtest_info does not decrypt: wrong password or damaged data', { field: 'vtest_info', cause });
  } finally {
    key.fill(0);
  }
}

/** Decrypts and validates `vtest_info` into its payload. */
export function decryptVtest(vtestInfo: string, password: string): VtestPayload {
  const text = decryptVtestText(vtestInfo, password);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new HsmError('VTEST_PAYLOAD', 'vtest_info plaintext is not JSON', { field: 'vtest_info', cause });
  }
  const parsed = vtestPayloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue?.code === 'unrecognized_keys') {
      const key = String(issue.keys[0]);
      throw new HsmError('VTEST_PAYLOAD', `vtest_info payload: unknown key ${key} (the keys are snake_case: ${Object.keys(vtestPayloadSchema.shape).join(', ')})`, {
        field: `vtest_info.${key}`,
      });
    }
    const path = issue?.path.join('.') ?? '';
    throw new HsmError('VTEST_PAYLOAD', `vtest_info payload: ${path === '' ? '' : `${path}: `}${issue?.message ?? 'invalid'}`, {
      field: path === '' ? 'vtest_info' : `vtest_info.${path}`,
    });
  }
  return parsed.data;
}

/** Encrypts `plaintext` as vweb does: 8-byte salt, random IV, upper-case hex (none with an empty password). */
export function encryptVtestText(plaintext: string, password: string, random: RandomSource): string {
  if (password === '') return plaintext;
  const salt = random.bytes(8);
  const iv = random.bytes(16);
  const key = deriveKey(password, salt);
  try {
    const cipher = createCipheriv('aes-256-cbc', key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [ciphertext, Buffer.from(iv), Buffer.from(salt)].map((b) => b.toString('hex').toUpperCase()).join('/');
  } finally {
    key.fill(0);
  }
}

export function encryptVtest(payload: VtestPayload, password: string, random: RandomSource): string {
  return encryptVtestText(JSON.stringify(vtestPayloadSchema.parse(payload)), password, random);
}
