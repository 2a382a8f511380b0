// Preact with htm: components written as tagged templates, no build step. Both are served
// from the package's node_modules (see the import map in index.html).
import { h, render } from 'preact';
import htm from 'htm';
import { useState } from 'preact/hooks';
import { control } from './api.js';

export const html = htm.bind(h);
export { render };
export { useEffect, useMemo, useRef, useState, useCallback } from 'preact/hooks';

/** A coloured word for a state: ok (green), warn (amber), bad (red), idle (grey). */
export function Badge({ tone, children, testid, title }) {
  return html`<span class="badge ${tone}" data-testid=${testid} title=${title}>${children}</span>`;
}

/** Rows of label / value. */
export function Fields({ rows }) {
  return html`<dl class="fields">
    ${rows.filter((r) => r !== null).map(([label, value, testid]) => html`<dt>${label}</dt><dd data-testid=${testid}>${value ?? '—'}</dd>`)}
  </dl>`;
}

export function Card({ title, children, testid, actions, wide }) {
  return html`<section class=${wide ? 'card wide' : 'card'} data-testid=${testid}>
    <header><h2>${title}</h2>${actions ? html`<div class="actions">${actions}</div>` : null}</header>
    ${children}
  </section>`;
}

/**
 * A lever on the control API: `run(path, body)` posts, keeps the errors (per field) and asks
 * for a fresh view. `busy` while the rig works on it (a power cut waits for the restart);
 * `runs` counts the answers (shown as data-runs, so a test can wait for one).
 */
export function useControl(refresh) {
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState([]);
  const [runs, setRuns] = useState(0);
  const run = async (path, body) => {
    setBusy(true);
    setErrors([]);
    const result = await control(path, body);
    setBusy(false);
    setRuns((n) => n + 1);
    if (!result.ok) setErrors(result.errors);
    refresh();
    return result;
  };
  return { busy, errors, run, runs, setErrors };
}
