// Module loader hooks for trace-node.mjs: one line per module loaded, in the loader's thread.
import { appendFileSync } from 'node:fs';

let file;
let pid;

export function initialize(data) {
  ({ file, pid } = data);
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `${JSON.stringify({ pid, module: url })}\n`);
  return nextLoad(url, context);
}
