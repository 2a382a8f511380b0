/**
 * A simulated world for tests: the rig in manual world time with a cheap PIN KDF, plus small
 * helpers to call its Open API as the platform's customers do, and an independent derivation
 * of the world's addresses (node:crypto PBKDF2 + bip32 + bitcoinjs-lib, no project code).
 */
import { pbkdf2Sync } from 'node:crypto';
import { Rig, type RigOptions } from '../../hw-profiles/sim/rig.ts';
import { signRequest } from '../../hw-profiles/sim/host/gateway-auth.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { requestString } from '../../shared/crypto/request-string.ts';
import { bip32, bitcoin } from '../oracle/bitcoinjs.ts';

export const FAST_KDF = { N: 1024, r: 8, p: 1 };
/** 2026-03-10 15:00 in Shanghai. */
export const WORLD_START = Date.UTC(2026, 2, 10, 7, 0);

export async function testRig(options: RigOptions = {}): Promise<Rig> {
  return Rig.start({ seed: 'test-world', start: WORLD_START, timeScale: 'manual', kdf: FAST_KDF, ...options });
}

/** Waits until the V-Device and HSM-Cold share an open channel. */
export async function channelOpen(rig: Rig): Promise<number> {
  await rig.waitFor(() => rig.vDevice?.currentChannel() !== undefined && rig.events.find((e) => e.type === 'cold.channel.opened') !== undefined, 'a channel', 1_800_000);
  return rig.vDevice?.currentChannel()?.cId as number;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export async function openApi<T = any>(
  rig: Rig,
  path: string,
  init: { method?: string; form?: Record<string, string>; credential?: 'hot' | 'cold' | 'none'; headers?: Record<string, string>; rawBody?: string; contentType?: string } = {},
): Promise<ApiResponse<T>> {
  const method = init.method ?? (init.form === undefined && init.rawBody === undefined ? 'GET' : 'POST');
  const body = init.rawBody ?? (init.form === undefined ? undefined : new URLSearchParams(init.form).toString());
  const credential = init.credential ?? 'hot';
  // Signed requests carry a timestamp in seconds, and the same request twice in one second is
  // a replay: let a second of world time pass before each.
  if (credential === 'cold') await rig.advance(1_000);
  const fullPath = `/api/v1/open${path}`;
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': init.contentType ?? 'application/x-www-form-urlencoded' }),
    ...(credential === 'none' ? {} : rig.credentialHeaders(credential, fullPath, method, body ?? '')),
    ...init.headers,
  };
  const response = await fetch(`${rig.ready.api.url.replace(/\/api\/v1\/open$/, '')}${fullPath}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

/** A request to the rig's control server (GET without a body); world time moves while it is answered, as some answers need the devices. */
export async function control(rig: Rig, path: string, body?: unknown): Promise<ApiResponse> {
  const request = fetch(`${rig.ready.control}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  }).then(async (response) => ({ status: response.status, body: await response.json() }));
  return rig.settle(request, `the answer to ${path}`, 1_800_000);
}

/** The POST tx/request form the V-Device would send, signed with its current channel key. */
export function vDeviceForm(rig: Rig, userTxNo: string, outs: string, isDynamicFee: 0 | 1 = 1): Record<string, string> {
  const channel = rig.vDevice?.currentChannel();
  if (channel?.cId === undefined) throw new Error('no open channel');
  const vcCode = signMessage(requestString({ coinCode: 'BTC', userTxNo, outs, isDynamicFee }), Buffer.from(channel.dh, 'hex'));
  return { coin_code: 'BTC', user_tx_no: userTxNo, outs, vc_code: vcCode, is_dynamic_fee: String(isDynamicFee), c_id: String(channel.cId) };
}

export { signRequest };

/** BIP44 P2PKH addresses m/44'/0'/0'/chain/i of a mnemonic, computed without project code. */
export function oracleAddresses(mnemonic: string, chain: 0 | 1, from: number, count: number): string[] {
  const seed = pbkdf2Sync(Buffer.from(mnemonic.normalize('NFKD'), 'utf8'), Buffer.from('mnemonic', 'utf8'), 2048, 64, 'sha512');
  const account = bip32.fromSeed(seed).derivePath("m/44'/0'/0'").derive(chain);
  const out: string[] = [];
  for (let i = from; i < from + count; i++) out.push(bitcoin.payments.p2pkh({ pubkey: Buffer.from(account.derive(i).publicKey) }).address as string);
  return out;
}
