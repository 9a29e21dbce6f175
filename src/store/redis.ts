// Kept so existing importers (server, bench, tests) need no change; the store lives in redis/.
export { RedisStore, type RedisStoreOptions } from './redis/store.js';
