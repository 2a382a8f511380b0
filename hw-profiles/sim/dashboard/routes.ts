/**
 * The dashboard's routes on the rig's control server (loopback only, the same port):
 *
 *   GET /                       → /dashboard/
 *   GET /dashboard/             the page (page/index.html)
 *   GET /dashboard/view         the world as JSON (world-view.ts), polled by the page
 *   GET /dashboard/page/<file>  the page's ES modules and style sheet
 *   GET /dashboard/vendor/<m>   Preact, its hooks and htm, served from node_modules
 *
 * Everything comes from this machine: the page's content security policy allows scripts,
 * styles and connections from the control server only (the import map by its hash). The page
 * changes the world only through the control API's own routes (/control/...).
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DashboardView } from './world-view.ts';

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** The browser modules the page imports by bare name (its import map), and where npm put them. */
const VENDOR: Record<string, string> = {
  'preact.mjs': 'preact',
  'preact-hooks.mjs': 'preact/hooks',
  'htm.mjs': 'htm',
};

/** The page's own files: next to this module, or in the package when compiled elsewhere. */
function pageDir(): string {
  const beside = fileURLToPath(new URL('./page/', import.meta.url));
  if (existsSync(join(beside, 'index.html'))) return beside;
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (;;) {
    const candidate = join(dir, 'hw-profiles', 'sim', 'dashboard', 'page');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = join(dir, '..');
    if (parent === dir) throw new Error('invariant failed: the dashboard page is not in the package');
    dir = parent;
  }
}

interface Asset {
  body: string;
  type: string;
}

function loadAssets(): { page: string; csp: string; files: Map<string, Asset>; vendor: Map<string, Asset> } {
  const dir = pageDir();
  const files = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[name.slice(name.lastIndexOf('.') + 1)];
    if (type !== undefined) files.set(name, { body: readFileSync(join(dir, name), 'utf8'), type });
  }
  const vendor = new Map<string, Asset>();
  for (const [name, specifier] of Object.entries(VENDOR)) vendor.set(name, { body: readFileSync(fileURLToPath(import.meta.resolve(specifier)), 'utf8'), type: TYPES.mjs as string });
  const page = readFileSync(join(dir, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1];
  if (importMap === undefined) throw new Error('invariant failed: the dashboard page has no import map');
  const hash = createHash('sha256').update(importMap).digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { page, csp, files, vendor };
}

/** Registers the dashboard on the control server (ControlServer.extend). */
export function dashboardRoutes(view: Pick<DashboardView, 'snapshot'>): (app: FastifyInstance) => void {
  const assets = loadAssets();
  return (app) => {
    app.get('/', (_request, reply) => reply.redirect('/dashboard/'));
    app.get('/dashboard', (_request, reply) => reply.redirect('/dashboard/'));
    app.get('/dashboard/', (_request, reply) =>
      reply.header('content-type', 'text/html; charset=utf-8').header('content-security-policy', assets.csp).header('cache-control', 'no-cache').send(assets.page),
    );
    app.get('/dashboard/view', async (_request, reply) => reply.header('cache-control', 'no-store').send(await view.snapshot()));
    const serve = (table: Map<string, Asset>) => async (request: FastifyRequest<{ Params: { file: string } }>, reply: FastifyReply) => {
      const asset = table.get(request.params.file);
      if (asset === undefined) return reply.code(404).send({ errors: [{ field: 'file', message: `no dashboard file ${request.params.file.slice(0, 40)}`, code: 404 }] });
      return reply.header('content-type', asset.type).header('cache-control', 'no-cache').send(asset.body);
    };
    app.get('/dashboard/page/:file', serve(assets.files));
    app.get('/dashboard/vendor/:file', serve(assets.vendor));
  };
}
