/**
 * USSD strings as Huawei modules take and give them: the GSM 7-bit default alphabet packed into
 * octets (23.038 §6.1.2.3) and written as hex, instead of the TE character set 27.007 §7.15
 * asks for. Gammu sends this form to the models it marks F_ENCODED_USSD
 * (libgammu/gsmphones.c) and its tests hold Huawei replies in it (tests/at-ussd/*-E160.dump).
 * @module
 */
import { firstNonGsm7, packSeptets, septetsToText, textToSeptets, unpackSeptets } from '../../../shared/gsm/gsm7.ts';
import { hexToOctets, octetsToHex } from './te-charset.ts';

/** Packed hex of `text`; characters the GSM alphabet lacks become `?`. */
export function textToPackedHex(text: string): string {
  const clean = [...text].map((c) => (firstNonGsm7(c) === -1 ? c : '?')).join('');
  return octetsToHex(packSeptets(textToSeptets(clean)));
}

/**
 * The text of packed hex, or undefined when it is not hex. When the septets end exactly on an
 * octet boundary with 7 bits to spare, the last septet is padding (CR per 23.038, 0 as Gammu
 * writes it) and is dropped.
 */
export function packedHexToText(hex: string): string | undefined {
  const octets = hexToOctets(hex);
  if (octets === undefined) return undefined;
  let septets = unpackSeptets(octets, Math.floor((octets.length * 8) / 7));
  const last = septets[septets.length - 1];
  if ((octets.length * 8) % 7 === 0 && (last === 0x00 || last === 0x0d)) septets = septets.slice(0, -1);
  return septetsToText(septets);
}
