import { describe, expect, it } from 'vitest';
import { serverOver } from '../../support/advisor.ts';
import { advisorStackForBlock } from '../../support/hooks.ts';

const running = advisorStackForBlock();

/** Every address the page names in a src or href attribute. */
function addressesIn(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1] ?? '');
}

describe('the dashboard', () => {
  it('serves its page at /, and the script and style it loads, from the advisor itself', async () => {
    const page = await fetch(`${running().url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    for (const id of ['tab-ask', 'tab-fleet', 'tab-measurements', 'tab-history', 'view-ask']) {
      expect(html).toContain(`id="${id}"`);
    }

    // Nothing from elsewhere: the page names its two files on this advisor, and an empty icon.
    const addresses = addressesIn(html);
    expect(addresses.sort()).toEqual(['dashboard/app.css', 'dashboard/app.js', 'data:,']);
    const assets = addresses.filter((address) => address.startsWith('dashboard/'));

    const script = await fetch(new URL(assets[1] ?? '', `${running().url}/`));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await script.text();
    // The bundle carries uPlot and imports nothing: no module is fetched from anywhere else.
    expect(code).toContain('uplot');
    expect(code).not.toMatch(/\bimport\s*["'(]|\bfrom\s*["']/);

    const style = await fetch(new URL(assets[0] ?? '', `${running().url}/`));
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const css = await style.text();
    expect(css).toContain('.uplot');
    expect(css).toContain('.field-error');

    const etag = script.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await fetch(`${running().url}/dashboard/app.js`, {
      headers: { 'if-none-match': etag ?? '' },
    });
    expect(again.status).toBe(304);
  });

  it('answers 404 for a file it does not have', async () => {
    const missing = await fetch(`${running().url}/dashboard/other.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'BERTH_ERR_NOT_FOUND' } });
  });

  it('serves its code without a token, and its data only with one', async () => {
    const guarded = await serverOver(running(), { token: 'dashboard-secret' });
    const url = guarded.address();
    try {
      expect((await fetch(`${url}/`)).status).toBe(200);
      expect((await fetch(`${url}/?token=dashboard-secret`)).status).toBe(200);
      expect((await fetch(`${url}/dashboard/app.js`)).status).toBe(200);
      for (const path of ['/v1/hosts', '/v1/advice', '/v1/published', '/v1/results/values']) {
        expect((await fetch(`${url}${path}`)).status, path).toBe(401);
      }
      const hosts = await fetch(`${url}/v1/hosts`, {
        headers: { authorization: 'Bearer dashboard-secret' },
      });
      expect(hosts.status).toBe(200);
      const runs = await fetch(`${url}/v1/hosts/host-a/runs`, { method: 'POST' });
      expect(runs.status).toBe(401);
    } finally {
      await guarded.close();
    }
  });
});
