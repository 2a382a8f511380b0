/**
 * The secp256k1 implementation: @noble/curves, the same code @scure/bip32 and
 * @scure/btc-signer use, so the tree holds one curve implementation. Import `secp` from here.
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';

export const secp = secp256k1;

/** Curve order n (SEC 2, §2.4.1). */
export const CURVE_ORDER = secp256k1.Point.CURVE().n;
