/**
 * The relay as production runs it (src/server.ts `start`: buildApp, RedisStore, process metrics),
 * configured from the environment the parent passes. Logs go to stdout as main.ts writes them
 * (asynchronous writes); the parent points stdout at a file.
 */
import { loadConfig } from '../../src/config.js';
import { stdoutLogger } from '../../src/ops/log.js';
import { start } from '../../src/server.js';
import { announce } from './announce.js';

const config = loadConfig(process.env);
const logger = stdoutLogger(config.logLevel);
const { server } = await start(config, logger);
announce(server);
