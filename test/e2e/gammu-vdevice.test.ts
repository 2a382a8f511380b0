/**
 * `hsm sim --v-device external:<pty>`: no emulated app, the V-Device's number is an emulated
 * phone modem on a pty, and the real Gammu binary plays the V-Device with the spec's strings
 * (spec "SMS messages"): CC:QH → CC:QC → CC:CHANNEL_OK, then a batch check whose signature,
 * verified with bitcoinjs-message against QC, shows HSM-Cold holds the key it announced.
 *
 * Gammu spends about 4 s in its init on every invocation (test/conformance/gammu.test.ts), so
 * the test waits for the world's event lines before it reads the phone's inbox.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { worldKeys } from '../../hw-profiles/sim/world-keys.ts';
import { osTool, osTools } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';
import { bitcoin, bitcoinMessage } from '../oracle/bitcoinjs.ts';
import { oracleAddresses } from '../sim/rig-helpers.ts';
import { startSim, type SimEvent } from './sim-process.ts';

const SEED = 'gammu-v-device';
/** Gammu is the V-Device's AT client; the rig serves its modem on a socat pty. */
const tools = osTools(osTool('gammu', 'gammu'), osTool('socat', 'socat'));

function gammu(config: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('gammu', ['-c', config, ...args], { timeout: 45_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The CC: texts in the phone's inbox, as `gammu getallsms` lists them. */
async function inbox(config: string): Promise<string[]> {
  const all = await gammu(config, ['getallsms']);
  expect(all.code, all.stderr).toBe(0);
  return all.stdout.split('\n').filter((line) => line.startsWith('CC:'));
}

async function inboxWith(config: string, prefix: string): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = (await inbox(config)).find((t) => t.startsWith(prefix));
    if (found !== undefined) return found;
  }
  throw new Error(`no ${prefix} message in the phone's inbox`);
}

async function send(config: string, to: string, text: string): Promise<void> {
  const sent = await gammu(config, ['sendsms', 'TEXT', to, '-text', text]);
  expect(sent.code, sent.stderr).toBe(0);
  expect(sent.stdout + sent.stderr).toMatch(/OK, message reference=\d+/);
}

describe.skipIf(!tools.available)('Gammu as the V-Device of hsm sim --v-device external:<pty>', () => {
  it('opens a channel with HSM-Cold using the spec strings, and the QC key signs a batch check', async () => {
    const dir = tempDir('hsm-gammu-v-');
    const pty = join(dir, 'v-device');
    const seedFile = join(dir, 'seed.json');
    writeFileSync(seedFile, JSON.stringify({ seed: SEED }));
    const sim = startSim(['--seed', seedFile, '--state-dir', join(dir, 'state'), '--v-device', `external:${pty}`, '--events']);
    const { ready } = await sim.ready(60_000);
    expect(ready.vDevice).toEqual({ mode: 'external', pty });
    const config = join(dir, 'gammurc');
    writeFileSync(config, `[gammu]\ndevice = ${pty}\nconnection = at\n`);
    const { coldSim1, coldSim2, vDevice } = ready.numbers;
    const toPhone = (kind: string) => (e: SimEvent) => e.type === 'sms.delivered' && e.to === vDevice && e.kind === kind;

    // The V-Device's new channel key (seeded), its public key compressed, upper-case hex.
    const dh = sha256(new TextEncoder().encode(`${SEED}/v-device channel 1`));
    const qh = Buffer.from(secp256k1.getPublicKey(dh, true)).toString('hex').toUpperCase();
    await send(config, coldSim1, `CC:QH:${qh}:H_ID:1:`);
    await sim.event((e) => e.type === 'sms.delivered' && e.to === coldSim1 && e.text === `CC:QH:${qh}:H_ID:1:`, 'the QH request at HSM-Cold');
    await sim.event(toPhone('channel-reply'), 'the QC reply at the phone');

    const qcText = await inboxWith(config, 'CC:QC:');
    const match = /^CC:QC:(0[23][0-9A-F]{64}):C_ID:([1-9][0-9]*):H_ID:1$/.exec(qcText);
    expect(match, qcText).not.toBeNull();
    expect(qcText.slice('CC:'.length).split(':')).toHaveLength(6); // what the app requires
    const qc = match![1]!;
    const cId = Number(match![2]);
    expect(() => secp256k1.Point.fromHex(qc.toLowerCase())).not.toThrow(); // a point on the curve
    expect(qc).not.toBe(qh);
    const replyFrom = (await gammu(config, ['getallsms'])).stdout.match(/Remote number\s+: "([^"]+)"/)?.[1];
    expect([coldSim1, coldSim2]).toContain(replyFrom);

    await send(config, coldSim1, `CC:CHANNEL_OK:${cId}:`);
    const opened = await sim.event((e) => e.type === 'cold.channel.opened', 'HSM-Cold opening the channel');
    expect(opened.cId).toBe(cId);
    const status = (await (await fetch(`${ready.control}/status`)).json()) as any;
    expect(status.channel.channel).toMatchObject({ cId, status: 'open' });
    expect(status.channel.pending_channel).toBeNull();
    expect(JSON.parse(status.devices.cold)).toMatchObject({ running: { channel: 'open' } });

    // The spec's check of QC: the V-Device recovers the key of a batch signature and compares
    // it with QC of channel cId. Cold batch 0 is derived here without project code.
    await send(config, coldSim1, 'CC:VERIFY_COLD_ADDRESSES:0:BTC:');
    await sim.event(toPhone('addresses'), 'the batch reply at the phone');
    const batchText = await inboxWith(config, 'CC:COLD_ADDRESSES:');
    const fields = batchText.slice('CC:'.length).split(':');
    expect(fields).toHaveLength(5);
    expect(fields[0]).toBe('COLD_ADDRESSES');
    expect(fields[1]).toBe('0');
    expect(fields[3]).toBe(String(cId));
    expect(fields[4]).toBe('BTC');
    const content = oracleAddresses(worldKeys(SEED).coldMnemonic, 0, 0, 1000)
      .map((address, k) => `${k},${address}:`)
      .join('');
    const qcAddress = bitcoin.payments.p2pkh({ pubkey: Buffer.from(qc, 'hex') }).address as string;
    expect(bitcoinMessage.verify(content, qcAddress, fields[2] as string)).toBe(true);
    const qhAddress = bitcoin.payments.p2pkh({ pubkey: Buffer.from(qh, 'hex') }).address as string;
    expect(bitcoinMessage.verify(content, qhAddress, fields[2] as string)).toBe(false);

    expect(await sim.stop('SIGINT', 20_000)).toBe(0);
  }, 240_000);
});
