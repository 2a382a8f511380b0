// Calls to the rig: the dashboard's view, and the control API's levers. Errors come back in
// the control API's shape, {"errors":[{"field","message",...}]}, and are kept per field so a
// form can show each one next to its input.

export async function fetchView() {
  const response = await fetch('/dashboard/view', { cache: 'no-store' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/**
 * POSTs to the control API. Resolves `{ ok: true, body }` or `{ ok: false, errors }` where each
 * error has `field` (may be empty) and `message`.
 */
export async function control(path, body) {
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (error) {
    return { ok: false, errors: [{ field: '', message: `the rig did not answer (${error.message})` }] };
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  if (response.ok) return { ok: true, body: parsed };
  return { ok: false, errors: errorsOf(parsed, response.status) };
}

function errorsOf(body, status) {
  const list = Array.isArray(body?.errors) ? body.errors : body?.error !== undefined ? [body.error] : [body];
  const errors = list
    .filter((e) => e !== null && typeof e === 'object')
    .map((e) => ({ field: typeof e.field === 'string' ? e.field : Array.isArray(e.path) ? e.path.join('.') : '', message: String(e.message ?? e.error ?? `HTTP ${status}`) }));
  return errors.length > 0 ? errors : [{ field: '', message: `HTTP ${status}` }];
}

/**
 * The error for a form field: an error naming `outs[0].value` belongs to the field `outs`.
 * @param {Array<{field: string, message: string}>} errors  @param {string} name
 */
export function errorFor(errors, name) {
  return errors.find((e) => e.field === name || e.field.startsWith(`${name}[`) || e.field.startsWith(`${name}.`))?.message;
}

/** Errors that name none of `names` (shown with the form as a whole). */
export function otherErrors(errors, names) {
  return errors.filter((e) => !names.some((name) => errorFor([e], name) !== undefined)).map((e) => (e.field === '' ? e.message : `${e.field}: ${e.message}`));
}
