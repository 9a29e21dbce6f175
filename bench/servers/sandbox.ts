/**
 * The sandbox marketplace (src/sandbox/server.ts: unified login, the tenant's identity server)
 * serving the world described by BENCH_WORLD (a bench/world.ts `WorldSpec` as JSON), so the
 * identity server the relay calls during a sign-in has a process of its own.
 */
import { startSandbox } from '../../src/sandbox/server.js';
import { buildWorld, type WorldSpec } from '../world.js';
import { announce } from './announce.js';

const spec = JSON.parse(process.env.BENCH_WORLD ?? '') as WorldSpec;
const sandbox = await startSandbox(buildWorld(spec));
announce(Number(new URL(sandbox.url).port));
