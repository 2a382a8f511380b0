/**
 * `hsm msg sign` and `hsm msg verify`: Bitcoin message signatures (BIP-137), as the V-Device
 * makes `vc_code` and as HSM-Cold signs address batches.
 * @module
 */
import type { Command } from 'commander';
import { p2pkhAddress } from '../../shared/crypto/address.ts';
import { NETWORK_KINDS, networkFor, parseCoin, type NetworkKind } from '../../shared/crypto/networks.ts';
import { recoverMessagePublicKey, signMessage, verifyMessageWithAddress } from '../../shared/crypto/message-signature.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { decodeWif } from '../../shared/crypto/wif.ts';
import { HsmError } from '../../shared/errors.ts';
import { EXIT, readStdin, report, run } from './output.ts';

function networkOption(coin: string, kind: string): ReturnType<typeof networkFor> {
  if (!(NETWORK_KINDS as readonly string[]).includes(kind)) {
    throw new HsmError('BAD_OPTION', `--network must be one of ${NETWORK_KINDS.join(', ')}`, { field: 'network' });
  }
  return networkFor(parseCoin(coin.toUpperCase(), 'coin'), kind as NetworkKind);
}

export function configureMsg(msg: Command): void {
  msg
    .command('sign')
    .description('sign a message with a private key read from stdin (WIF); prints the base64 signature')
    .requiredOption('--message <text>', 'the message')
    .option('--coin <coin>', 'BTC, LTC or DOGE (selects the message prefix)', 'BTC')
    .option('--network <kind>', 'mainnet, testnet or regtest', 'mainnet')
    .option('--json', 'print JSON')
    .action((options: { message: string; coin: string; network: string; json?: boolean }) =>
      run(options, async () => {
        const network = networkOption(options.coin, options.network);
        const wif = decodeWif(await readStdin(), 'stdin');
        if (!wif.compressed) throw new HsmError('WIF_UNCOMPRESSED', 'only keys for compressed public keys are used for signing', { field: 'stdin' });
        const signature = signMessage(options.message, wif.privateKey, network);
        const address = p2pkhAddress(secp.getPublicKey(wif.privateKey, true), network);
        wif.privateKey.fill(0);
        report(options, { address, message: options.message, signature }, () => signature);
      }),
    );

  msg
    .command('verify')
    .description('verify a message signature against an address; exit 0 only when valid')
    .requiredOption('--address <address>', 'P2PKH or P2WPKH address')
    .requiredOption('--message <text>', 'the message')
    .requiredOption('--signature <base64>', 'the BIP-137 signature')
    .option('--coin <coin>', 'BTC, LTC or DOGE', 'BTC')
    .option('--network <kind>', 'mainnet, testnet or regtest', 'mainnet')
    .option('--json', 'print JSON')
    .action((options: { address: string; message: string; signature: string; coin: string; network: string; json?: boolean }) =>
      run(options, () => {
        const network = networkOption(options.coin, options.network);
        const valid = verifyMessageWithAddress(options.message, options.signature, options.address, network);
        const publicKey = valid ? bytesToHex(recoverMessagePublicKey(options.message, options.signature, network)) : null;
        report(options, { valid, address: options.address, publicKey }, () =>
          valid ? `valid: signed by the key of ${options.address}` : `invalid: not signed by the key of ${options.address}`,
        );
        return valid ? EXIT.ok : EXIT.invalid;
      }),
    );
}
