/**
 * Loaded into the soak's relay processes (`node --expose-gc --import`, before src/main.ts):
 * SIGUSR2 runs a full garbage collection, so the soak reads the live heap and not wherever the
 * last collection happened to leave it. Nothing else of the relay changes.
 */
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());
