export default async function globalTeardown() {
  globalThis.__testRedis?.kill('SIGTERM');
}
