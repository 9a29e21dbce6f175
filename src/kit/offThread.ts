/**
 * Large bodies are verified on a worker thread. Reading a call is cheap; parsing, building the
 * canonical payload and hashing are not: a hostile 4 MiB body (hundreds of thousands of keys or
 * decimals) costs hundreds of milliseconds, and it arrives unauthenticated. Bodies above
 * `OFF_THREAD_BYTES` are therefore checked by one worker, so no call holds the event loop for
 * more than a few milliseconds before its signature is known to be good; smaller ones, every
 * usual push among them, are checked inline, where a worker's round trip would cost more.
 *
 * At most `maxQueued` large bodies wait for the worker; more are answered 000005 at once (the
 * marketplace retries), so a flood cannot queue unbounded memory behind one thread.
 *
 * The worker starts with the first large body and then stays (about 20 MB): a new one takes
 * 175-280 ms to start and compile before its first verdict, against 11-27 ms for one that has
 * run, and large bodies come seconds or hours apart. It used to go after 500 ms idle, which put
 * a cold start in front of almost every allOrgSync of a large organisation.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { KitRefusal, ResultCode } from './resultCodes.js';
import { schemeData, type AnyScheme, type SignedCall } from './verify.js';
import type { VerifyJob, VerifyVerdict } from './verifyWorker.js';

/** Bodies up to this size are checked inline: a few milliseconds at worst (bench: kit hostile). */
export const OFF_THREAD_BYTES = 64 * 1024;

export class OffThreadVerifier {
  private worker: Worker | null = null;
  /** jobs waiting, each with the worker it was given to (one closed may still be exiting) */
  private readonly pending = new Map<number, { worker: Worker; resolve: (verdict: VerifyVerdict) => void }>();
  private next = 0;
  /** Workers started so far: one, unless one died (tests). */
  started = 0;

  constructor(private readonly maxQueued = 8) {}

  /**
   * Resolves to the body's text when its signature holds (verify.ts verifyCall); throws
   * KitRefusal otherwise.
   */
  async check(scheme: AnyScheme, call: SignedCall, bytes: Uint8Array): Promise<string> {
    if (this.pending.size >= this.maxQueued)
      throw new KitRefusal(
        ResultCode.internalError,
        'too many large calls are being verified; nothing was changed, please retry shortly',
      );
    const id = ++this.next;
    const verdict = await new Promise<VerifyVerdict>((resolve) => {
      const worker = this.start();
      this.pending.set(id, { worker, resolve });
      const job: VerifyJob = {
        id,
        scheme: schemeData(scheme),
        call: { sign: call.sign, timestamp: call.timestamp, nonce: call.nonce, query: call.query },
        bytes,
      };
      worker.postMessage(job);
    });
    if (verdict.ok) return verdict.text;
    if ('resultCode' in verdict) throw new KitRefusal(verdict.resultCode as ResultCode, verdict.message);
    throw new Error(`off-thread verification failed: ${verdict.failed}`);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker();
    this.started++;
    worker.unref();
    worker.on('message', (verdict: VerifyVerdict) => {
      const job = this.pending.get(verdict.id);
      this.pending.delete(verdict.id);
      job?.resolve(verdict);
    });
    // A worker that dies fails what it held; the next call starts a new one.
    const fail = (why: string) => {
      if (this.worker === worker) this.worker = null;
      // Only its own jobs: a worker closed exits while the next one may already work.
      for (const [id, job] of this.pending)
        if (job.worker === worker) {
          this.pending.delete(id);
          job.resolve({ id, ok: false, failed: why });
        }
    };
    worker.on('error', (error) => fail(error.message));
    worker.on('exit', (code) => fail(`worker exited with code ${code}`));
    this.worker = worker;
    return worker;
  }
}

/**
 * The worker, from the built JavaScript; from the TypeScript sources (tests, `npm run dev`) it
 * first registers tsx's loader, which a worker does not inherit.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./verifyWorker.js', import.meta.url));
  const tsx = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const entry = fileURLToPath(new URL('./verifyWorker.ts', import.meta.url));
  return new Worker(`require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(entry)});`, {
    eval: true,
  });
}
