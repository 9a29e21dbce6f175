/** The change feed for the seller's app (contract §5b): `GET /api/v1/events`. */
import type { Feed } from '../feed/feed.js';
import type { ApiRoutes } from './apiRoutes.js';
import { operations, type Answer } from './contract.js';

export function eventRoutes(feed: Feed, api: ApiRoutes): void {
  api.serve(operations.listEvents, async (_req, res, { query }) => {
    const { after, limit, types, tenantId, wait } = query;
    let page = await feed.read({ after, limit, types, tenantId });
    if (page.events.length === 0 && wait > 0) {
      // Real time, not the injected clock: this is how long a connection is held.
      const until = Date.now() + wait * 1000;
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      while (page.events.length === 0 && !feed.closing && Date.now() < until) {
        await feed.wait(page.next, until - Date.now(), gone.signal);
        if (gone.signal.aborted) return;
        page = await feed.read({ after: page.next, limit, types, tenantId });
      }
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json(page as Answer<'listEvents'>);
  });
}
