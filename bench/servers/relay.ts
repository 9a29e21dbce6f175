/**
 * The relay as production runs it (src/server.ts `start`: buildApp, RedisStore, process metrics),
 * configured from the environment the parent passes. Logs go to stdout as in production; the
 * parent points stdout at /dev/null.
 */
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import { start } from '../../src/server.js';
import { announce } from './announce.js';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
const { server } = await start(config, logger);
announce(server);
