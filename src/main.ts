/**
 * Entry point: read configuration, start the relay, and drain on SIGTERM.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { stdoutLogger } from './ops/log.js';
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
  // Lines to stdout in batches, within 100 ms, the last ones written on the way out (ops/log.ts).
  const logger = stdoutLogger(config.logLevel);
  // A generated BASIC_ACCESS_KEY gets its own warning below: it closes routes rather than losing sessions.
  const sessionState = config.generated.filter((name) => name !== 'BASIC_ACCESS_KEY');
  if (sessionState.length)
    logger.warn(
      { generated: sessionState },
      'generated random secrets for this run (set them to keep sessions across restarts)',
    );
  if (config.allowInsecureIdp)
    logger.warn(
      'ALLOW_INSECURE_IDP=true: identity servers over plain http are accepted, so codes, tokens and client secrets may cross the network unencrypted (sandbox and tests only)',
    );
  if (config.generated.includes('BASIC_ACCESS_KEY'))
    logger.warn(
      'BASIC_ACCESS_KEY is not set: KooGallery basic instance calls (purchases, renewals, freezes) will be refused with 000001 until it is',
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
