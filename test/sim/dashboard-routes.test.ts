/**
 * The dashboard's routes on the control server, without a world: the page, its content
 * security policy (the import map by hash, nothing from outside the machine), every module the
 * page imports served from the package, the view as JSON, and nothing else.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { ControlServer } from '../../hw-profiles/sim/control-server.ts';
import { dashboardRoutes } from '../../hw-profiles/sim/dashboard/routes.ts';
import { EventBus } from '../../hw-profiles/sim/events.ts';

const refuse = (): never => {
  throw new Error('not in this test');
};

describe('the dashboard routes', () => {
  let server: ControlServer;
  let url: string;
  const view = { worldTime: '2026-03-10T07:00:00.000Z', devices: { states: { hot: 'running', cold: '"locked"' } } };

  beforeEach(async () => {
    server = new ControlServer(new EventBus(new RealClock()), { now: () => Date.now(), status: refuse, advance: refuse, fault: refuse, withdrawal: refuse, batch: refuse, sms: refuse });
    server.extend(dashboardRoutes({ snapshot: async () => view }));
    url = await server.listen('127.0.0.1', 0);
  });

  afterEach(() => server.close());

  it('serves the page with a policy that allows only this server and the page\'s own import map', async () => {
    const root = await fetch(`${url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');
    const page = await fetch(`${url}/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] as string;
    const csp = page.headers.get('content-security-policy') as string;
    expect(csp.split('; ')).toEqual(
      expect.arrayContaining(["default-src 'none'", `script-src 'self' 'sha256-${createHash('sha256').update(importMap).digest('base64')}'`, "style-src 'self'", "connect-src 'self'"]),
    );
    expect(csp).not.toMatch(/https?:|\*/);
  });

  it('serves every module the page imports, from this server, and nothing from outside the machine', async () => {
    const html = await (await fetch(`${url}/dashboard/`)).text();
    const base = `${url}/dashboard/`;
    const imports = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] as string).imports as Record<string, string>;
    const queue = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string).filter((ref) => !ref.startsWith('data:'));
    const seen = new Set<string>();
    while (queue.length > 0) {
      const ref = new URL(queue.shift() as string, base).href;
      if (seen.has(ref)) continue;
      seen.add(ref);
      expect(ref.startsWith(url), ref).toBe(true);
      const response = await fetch(ref);
      expect(response.status, ref).toBe(200);
      const body = await response.text();
      expect(body, ref).not.toMatch(/\bhttps?:\/\/(?!www\.w3\.org)/);
      if (!/javascript/.test(response.headers.get('content-type') ?? '')) continue;
      for (const [, specifier] of body.matchAll(/\b(?:import|export)\s*(?:[\w*{}\s,$]*?\bfrom\s*)?["']([^"']+)["']/g)) {
        const resolved = imports[specifier as string] ?? specifier;
        queue.push(new URL(resolved as string, imports[specifier as string] === undefined ? ref : base).href);
      }
    }
    // The page, its style sheet, its modules and the three vendored ones.
    expect([...seen].filter((r) => r.includes('/vendor/')).map((r) => r.slice(r.lastIndexOf('/') + 1)).sort()).toEqual(['htm.mjs', 'preact-hooks.mjs', 'preact.mjs']);
    // ...and every file of the page is reached from index.html: none missing, none left over.
    const pageFiles = readdirSync(new URL('../../hw-profiles/sim/dashboard/page/', import.meta.url)).filter((f) => /\.(js|css)$/.test(f));
    expect([...seen].filter((r) => r.includes('/page/')).map((r) => r.slice(r.lastIndexOf('/') + 1)).sort()).toEqual(pageFiles.sort());
  });

  it('serves the view as JSON and no file outside the page', async () => {
    const response = await fetch(`${url}/dashboard/view`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual(view);
    for (const path of ['/dashboard/page/nothing.js', '/dashboard/page/..%2Froutes.ts', '/dashboard/vendor/react.mjs', '/dashboard/page/index.html']) {
      expect((await fetch(`${url}${path}`)).status, path).toBe(404);
    }
  });
});
