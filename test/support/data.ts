/** Push fields shaped like the marketplace's, with identifiers unique to each test. */
import { formatSyncTime } from '../../src/sandbox/marketplace/index.js';

// The builders live in fixtures.ts, shared with the benchmarks.
export {
  allOrgFields,
  appFields,
  authFields,
  newTenantId,
  orgFields,
  tenantFields,
  user,
} from './fixtures.js';

/** A sync time `ms` after a fixed recent base, for pushes whose order a test controls. */
const base = Date.now() - 3_600_000;
export const at = (ms: number) => formatSyncTime(base + ms);
