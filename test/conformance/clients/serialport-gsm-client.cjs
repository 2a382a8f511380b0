/**
 * serialport-gsm 4.0.1 as its users drive it, in a process of its own: open the modem,
 * initialise it, switch to PDU mode with new-message indications, read the SIM inbox, send
 * each text of the plan, then report every message onNewMessage delivers until told to quit.
 *
 *   node serialport-gsm-client.cjs <path> '{"sends":[{"to":"+1555...","text":"hi"}]}'
 *
 * stdout: one JSON object per line (`initialized`, `inbox`, `sent`, `listening`, `message`,
 * `error`). stdin: a line "quit" closes the port and exits.
 */
'use strict';

const serialportgsm = require('serialport-gsm');

const [path, planJson] = process.argv.slice(2);
const plan = JSON.parse(planJson || '{}');

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const modem = serialportgsm.Modem();

modem.on('onNewMessage', (messages) => {
  for (const message of [].concat(messages)) emit({ event: 'message', sender: message.sender, text: message.message, parts: message.udhs ? message.udhs.length : 1 });
});
modem.on('error', (error) => emit({ event: 'error', where: 'port', message: String(error && error.modem ? error.modem : error) }));

async function run() {
  await modem.open(path, {
    baudRate: 115200,
    dataBits: 8,
    stopBits: 1,
    parity: 'none',
    rtscts: false,
    xon: false,
    xoff: false,
    xany: false,
    autoDeleteOnReceive: false,
    enableConcatenation: true,
    incomingCallIndication: false,
    incomingSMSIndication: true,
    cnmiCommand: 'AT+CNMI=2,1,0,2,1',
  });
  const init = await modem.initializeModem();
  emit({ event: 'initialized', status: init.status });
  await modem.setModemMode('PDU');
  const inbox = await modem.getSimInbox();
  emit({ event: 'inbox', status: inbox.status, messages: (inbox.data || []).map((m) => ({ sender: m.sender, text: m.message, index: m.index })) });
  for (const send of plan.sends || []) {
    // A callback of two parameters gets the outcome of the last part, not the "queued" notice.
    const result = await new Promise((resolve) => modem.sendSMS(send.to, send.text, false, (outcome, _error) => resolve(outcome)));
    emit({ event: 'sent', to: send.to, status: result.status, response: result.data && result.data.response });
  }
  emit({ event: 'listening' });
}

require('readline')
  .createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() !== 'quit') return;
    modem.close(() => process.exit(0));
  });

run().catch((error) => {
  emit({ event: 'error', where: 'run', message: error && error.message ? error.message : JSON.stringify(error) });
  process.exit(1);
});
