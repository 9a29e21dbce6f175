/**
 * Entry point: read configuration, start the relay, and drain on SIGTERM.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './ops/log.js';
import { start } from './server.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  if (config.generated.length)
    logger.warn(
      { generated: config.generated },
      'generated random secrets for this run (set them to keep sessions across restarts)',
    );
  const { stop } = await start(config, logger);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    const force = setTimeout(() => {
      logger.error('drain took longer than 25 s; exiting');
      process.exit(1);
    }, 25_000);
    force.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
