/**
 * `hsm keys new` and `hsm keys derive`: mnemonics, account xpubs and addresses.
 * @module
 */
import type { Command } from 'commander';
import { deriveAddressBatch } from '../../shared/crypto/batch-derivation.ts';
import {
  CHAIN,
  MNEMONIC_WORD_COUNTS,
  accountSpec,
  checkChain,
  exportAccountXpub,
  generateMnemonic,
  importAccountXpub,
  mnemonicToSeed,
  type AccountSpec,
  type MnemonicWordCount,
} from '../../shared/crypto/hd.ts';
import {
  NETWORK_KINDS,
  getNetwork,
  networkFor,
  parseCoin,
  supportedAddressTypes,
  type AddressType,
  type NetworkKind,
} from '../../shared/crypto/networks.ts';
import { HsmError } from '../../shared/errors.ts';
import { systemRandom } from '../../shared/random.ts';
import { parseIntegerOption, readStdin, report, run } from './output.ts';

const MAX_DERIVE_COUNT = 100_000;

export function configureKeys(keys: Command): void {
  keys
    .command('new')
    .description('generate a BIP39 mnemonic and print it with the account xpubs it yields')
    .option('--words <n>', 'mnemonic length: 12, 15, 18, 21 or 24', '24')
    .option('--networks <ids>', 'comma-separated networks', 'btc-main,ltc-main,doge-main')
    .option('--account <n>', 'account number', '0')
    .option('--passphrase-stdin', 'read a BIP39 passphrase from stdin')
    .option('--json', 'print JSON')
    .action((options: { words: string; networks: string; account: string; passphraseStdin?: boolean; json?: boolean }) =>
      run(options, async () => {
        const words = parseIntegerOption(options.words, 'words');
        if (!(MNEMONIC_WORD_COUNTS as readonly number[]).includes(words)) {
          throw new HsmError('BAD_OPTION', '--words must be 12, 15, 18, 21 or 24', { field: 'words' });
        }
        const account = parseIntegerOption(options.account, 'account');
        const networks = options.networks.split(',').map((id) => getNetwork(id.trim()));
        const passphrase = options.passphraseStdin ? await readStdin() : '';
        const mnemonic = generateMnemonic(systemRandom, words as MnemonicWordCount);
        const seed = mnemonicToSeed(mnemonic, passphrase);
        const accounts = networks.flatMap((network) =>
          supportedAddressTypes(network).map((type) => {
            const spec = accountSpec(network, type, account);
            return { network: network.id, type, path: pathOf(spec), xpub: exportAccountXpub(seed, spec) };
          }),
        );
        seed.fill(0);
        process.stderr.write('The mnemonic below is the only backup of these keys. Write it down; it is not stored anywhere.\n');
        report(options, { mnemonic, passphrase: passphrase.length > 0, accounts }, () =>
          [`mnemonic: ${mnemonic}`, '', ...accounts.map((a) => `${a.network.padEnd(11)} ${a.type.padEnd(6)} ${a.path.padEnd(14)} ${a.xpub}`)].join('\n'),
        );
      }),
    );

  keys
    .command('derive')
    .description('derive addresses from an account xpub')
    .requiredOption('--xpub <xpub>', 'account extended public key (xpub, zpub, tpub, vpub, Ltub, dgub)')
    .requiredOption('--coin <coin>', 'BTC, LTC or DOGE')
    .option('--network <kind>', `network kind: ${NETWORK_KINDS.join(', ')}`, 'mainnet')
    .option('--type <type>', 'p2pkh or p2wpkh (default: from the xpub version)')
    .option('--chain <n>', '0 = external (receiving), 1 = change', '0')
    .option('--from <i>', 'first address index', '0')
    .option('--count <k>', 'number of addresses', '20')
    .option('--json', 'print JSON')
    .action(
      (options: { xpub: string; coin: string; network: string; type?: string; chain: string; from: string; count: string; json?: boolean }) =>
        run(options, () => {
          const coin = parseCoin(options.coin.toUpperCase(), 'coin');
          if (!(NETWORK_KINDS as readonly string[]).includes(options.network)) {
            throw new HsmError('BAD_OPTION', `--network must be one of ${NETWORK_KINDS.join(', ')}`, { field: 'network' });
          }
          const network = networkFor(coin, options.network as NetworkKind);
          const chain = parseIntegerOption(options.chain, 'chain');
          checkChain(chain);
          const from = parseIntegerOption(options.from, 'from');
          const count = parseIntegerOption(options.count, 'count');
          if (count > MAX_DERIVE_COUNT) {
            throw new HsmError('BAD_OPTION', `--count is at most ${MAX_DERIVE_COUNT}`, { field: 'count' });
          }
          const spec = specForXpub(options.xpub, network, options.type);
          const account = importAccountXpub(options.xpub, spec);
          const addresses = deriveAddressBatch(account, spec, chain, from, count).map((address, i) => ({ index: from + i, address }));
          report(options, { network: network.id, type: spec.purpose === 44 ? 'p2pkh' : 'p2wpkh', chain, addresses }, () =>
            addresses.map((a) => `${pathOf(spec)}/${chain}/${a.index}  ${a.address}`).join('\n'),
          );
        }),
    );
}

/** The account spec an xpub belongs to: its version byte picks BIP44 or BIP84 unless --type says. */
function specForXpub(xpub: string, network: ReturnType<typeof networkFor>, type: string | undefined): AccountSpec {
  if (type !== undefined) {
    if (type !== 'p2pkh' && type !== 'p2wpkh') throw new HsmError('BAD_OPTION', '--type must be p2pkh or p2wpkh', { field: 'type' });
    return accountSpec(network, type as AddressType);
  }
  const candidates = supportedAddressTypes(network);
  let firstError: unknown;
  for (const candidate of candidates) {
    try {
      const spec = accountSpec(network, candidate);
      importAccountXpub(xpub, spec);
      return spec;
    } catch (error) {
      firstError ??= error;
      if (!(error instanceof HsmError) || error.code !== 'XPUB_WRONG_NETWORK') throw error;
    }
  }
  throw firstError;
}

function pathOf(spec: AccountSpec): string {
  return `m/${spec.purpose}'/${spec.network.coinType}'/${spec.account}'`;
}

export { CHAIN };
