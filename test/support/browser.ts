/**
 * A minimal browser for HTTP-level sign-in tests: a cookie jar (path, HttpOnly, Secure,
 * SameSite kept for assertions), manual redirects, and nothing else. The unified-login page's
 * script is played by calling the JSON endpoint it calls. The real page is driven by
 * Chromium in the end-to-end test.
 */
export interface StoredCookie {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite?: string;
  expires?: number;
  raw: string;
}

export interface Page {
  url: string;
  status: number;
  location: string | null;
  headers: Headers;
  text: string;
}

export class Browser {
  private readonly jar = new Map<string, Map<string, StoredCookie>>();

  cookies(url: string): StoredCookie[] {
    const u = new URL(url);
    return [...(this.jar.get(u.host)?.values() ?? [])].filter((c) => u.pathname.startsWith(c.path));
  }

  cookie(url: string, name: string): StoredCookie | undefined {
    return this.jar.get(new URL(url).host)?.get(name);
  }

  cookieHeader(url: string): string {
    return this.cookies(url)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  setCookie(url: string, name: string, value: string, path = '/'): void {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar
      .get(host)!
      .set(name, { name, value, path, httpOnly: false, secure: false, raw: `${name}=${value}` });
  }

  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string; json?: unknown } = {},
  ): Promise<Page> {
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(url, { method: init.method ?? 'GET', headers, body, redirect: 'manual' });
    this.store(url, response.headers.getSetCookie());
    const location = response.headers.get('location');
    return {
      url,
      status: response.status,
      location: location ? new URL(location, url).href : null,
      headers: response.headers,
      text: await response.text(),
    };
  }

  /** GET and follow redirects, as a navigation would. */
  async navigate(
    url: string,
    headers: Record<string, string> = {},
    maxHops = 10,
  ): Promise<{ page: Page; hops: string[] }> {
    const hops = [url];
    let page = await this.request(url, { headers });
    while (page.status >= 300 && page.status < 400 && page.location && hops.length <= maxHops) {
      hops.push(page.location);
      page = await this.request(page.location);
    }
    return { page, hops };
  }

  private store(url: string, setCookies: string[]): void {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    const jar = this.jar.get(host)!;
    for (const raw of setCookies) {
      const [pair, ...attrs] = raw.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const attr = (n: string) => attrs.find((a) => a.toLowerCase().startsWith(n));
      const expiresAttr = attr('expires=');
      const maxAge = attr('max-age=');
      const expires = maxAge
        ? Date.now() + Number(maxAge.split('=')[1]) * 1000
        : expiresAttr
          ? Date.parse(expiresAttr.slice(8))
          : undefined;
      if (!value || (expires !== undefined && expires <= Date.now())) {
        jar.delete(name);
        continue;
      }
      jar.set(name, {
        name,
        value,
        path: attr('path=')?.slice(5) ?? '/',
        httpOnly: !!attr('httponly'),
        secure: !!attrs.find((a) => a.toLowerCase() === 'secure'),
        sameSite: attr('samesite=')?.slice(9),
        ...(expires !== undefined ? { expires } : {}),
        raw,
      });
    }
  }
}
