/**
 * The conformance matrix: every real client (gammu, gammu-smsd, smstools3, serialport-gsm) on
 * every shipped modem profile, with every check of checks.ts. Each pair has its own world and
 * ptys, so pairs run side by side (vitest's maxConcurrency at a time).
 */
import { describe, it } from 'vitest';
import { MODEM_PROFILE_NAMES } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { osTool, osTools } from '../helpers/os-tools.ts';
import { gammuChecks, gammuSmsdChecks, serialportGsmChecks, smstoolsChecks } from './checks.ts';

const tools = osTools(osTool('socat', 'socat'), osTool('gammu', 'gammu'), osTool('gammu-smsd', 'gammu-smsd'), osTool('smsd', 'smstools'));
const LIMIT_MS = 20 * 60_000;

describe.skipIf(!tools.available).concurrent(`real SMS clients on every profile (${MODEM_PROFILE_NAMES.length} profiles × 4 clients)`, () => {
  for (const profile of MODEM_PROFILE_NAMES) {
    it(`gammu on ${profile}: identify, networkinfo, getsmsc, monitor, date and time, sendsms short/-len 400/-unicode/-report, getallsms, deleteallsms, getussd`, () => gammuChecks(profile, true), LIMIT_MS);
    it(`gammu-smsd on ${profile}: short and multipart out, short, multipart and UCS2 in, SIGTERM`, () => gammuSmsdChecks(profile, true), LIMIT_MS);
    it(`smstools3 on ${profile}: short, multipart and UCS2 out and in, a status report, SIGTERM`, () => smstoolsChecks(profile, true), LIMIT_MS);
    it(`serialport-gsm on ${profile}: initialize, inbox, short and Unicode sends, a multipart message from a peer`, () => serialportGsmChecks(profile), LIMIT_MS);
  }
});
