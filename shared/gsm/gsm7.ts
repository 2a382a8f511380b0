/**
 * The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1, §6.2.1.1),
 * and septet packing (23.038 §6.1.2.1.1).
 *
 * The tables here are the specification's. They differ from node-pdu 2.1.1, which maps 0x5F to
 * '`' instead of '§' (so a '`' it encodes reaches the phone as '§'); every text this project
 * encodes in GSM-7 goes through these tables, and characters they lack are refused, never
 * replaced.
 * @module
 */

/** Code points 0x00-0x7F of the default alphabet; 0x1B is the escape to the extension table. */
const DEFAULT_ALPHABET: readonly string[] = [
  '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
  'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u001b', 'Æ', 'æ', 'ß', 'É',
  ' ', '!', '"', '#', '¤', '%', '&', "'", '(', ')', '*', '+', ',', '-', '.', '/',
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
  '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
  'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
  '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/** Extension table entries (code after ESC → character); 0x0A is the page break (FF). */
const EXTENSION_TABLE: ReadonlyMap<number, string> = new Map([
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
]);

export const GSM7_ESCAPE = 0x1b;

const ENCODE_DEFAULT = new Map<string, number>();
DEFAULT_ALPHABET.forEach((char, code) => {
  if (code !== GSM7_ESCAPE) ENCODE_DEFAULT.set(char, code);
});
const ENCODE_EXTENSION = new Map<string, number>();
for (const [code, char] of EXTENSION_TABLE) ENCODE_EXTENSION.set(char, code);

/** Septets of one character: [code] or [ESC, code]; undefined when GSM-7 cannot carry it. */
export function gsm7CharSeptets(char: string): readonly number[] | undefined {
  const basic = ENCODE_DEFAULT.get(char);
  if (basic !== undefined) return [basic];
  const extended = ENCODE_EXTENSION.get(char);
  if (extended !== undefined) return [GSM7_ESCAPE, extended];
  return undefined;
}

/** Index (in UTF-16 code units) of the first character GSM-7 cannot carry, or -1. */
export function firstNonGsm7(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (gsm7CharSeptets(text[i] as string) === undefined) return i;
  }
  return -1;
}

/** Septets of `text`; the caller has checked `firstNonGsm7(text) === -1`. */
export function textToSeptets(text: string): number[] {
  const out: number[] = [];
  for (const char of text) {
    const septets = gsm7CharSeptets(char);
    if (septets === undefined) throw new Error(`invariant failed: "${char}" is not in the GSM 7-bit alphabet`);
    out.push(...septets);
  }
  return out;
}

/**
 * Characters of a septet string. An escape followed by a code the extension table lacks shows
 * the default-alphabet character (23.038 §6.2.1.1); a trailing escape is dropped.
 */
export function septetsToText(septets: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < septets.length; i++) {
    const code = (septets[i] as number) & 0x7f;
    if (code === GSM7_ESCAPE) {
      if (i + 1 >= septets.length) break;
      const next = (septets[++i] as number) & 0x7f;
      out += EXTENSION_TABLE.get(next) ?? (next === GSM7_ESCAPE ? ' ' : (DEFAULT_ALPHABET[next] as string));
    } else {
      out += DEFAULT_ALPHABET[code] as string;
    }
  }
  return out;
}

/**
 * Packs septets LSB first into octets, after `fillBits` zero bits (the padding that aligns
 * text after a user data header to a septet boundary, 23.040 §9.2.3.24).
 */
export function packSeptets(septets: ArrayLike<number>, fillBits = 0): Uint8Array {
  const totalBits = fillBits + septets.length * 7;
  const out = new Uint8Array(Math.ceil(totalBits / 8));
  let bit = fillBits;
  for (let i = 0; i < septets.length; i++) {
    const value = (septets[i] as number) & 0x7f;
    const byte = bit >> 3;
    const shift = bit & 7;
    out[byte] = ((out[byte] as number) | (value << shift)) & 0xff;
    if (shift > 1) out[byte + 1] = ((out[byte + 1] as number) | (value >> (8 - shift))) & 0xff;
    bit += 7;
  }
  return out;
}

/** Unpacks `count` septets after `fillBits` bits; the caller has checked `bytes` is long enough. */
export function unpackSeptets(bytes: Uint8Array, count: number, fillBits = 0): number[] {
  const out: number[] = [];
  let bit = fillBits;
  for (let i = 0; i < count; i++) {
    const byte = bit >> 3;
    const shift = bit & 7;
    let value = (bytes[byte] ?? 0) >> shift;
    if (shift > 1) value |= (bytes[byte + 1] ?? 0) << (8 - shift);
    out.push(value & 0x7f);
    bit += 7;
  }
  return out;
}
