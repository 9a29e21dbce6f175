/**
 * The worker thread of offThread.ts: checks large bodies (parse, canonical payload, HMAC) so the
 * event loop never spends more than a few milliseconds on a call before its signature is known.
 */
import { parentPort } from 'node:worker_threads';
import { KitRefusal } from './resultCodes.js';
import { checkCall, schemeOf, type SchemeData, type SignedCall } from './verify.js';

export interface VerifyJob {
  id: number;
  scheme: SchemeData;
  call: SignedCall;
  bytes: Uint8Array;
}

export type VerifyVerdict =
  | { id: number; ok: true }
  | { id: number; ok: false; resultCode: string; message: string }
  | { id: number; ok: false; failed: string };

parentPort?.on('message', (job: VerifyJob) => {
  let verdict: VerifyVerdict;
  try {
    checkCall(schemeOf(job.scheme), job.call, job.bytes);
    verdict = { id: job.id, ok: true };
  } catch (error) {
    verdict =
      error instanceof KitRefusal
        ? { id: job.id, ok: false, resultCode: error.resultCode, message: error.message }
        : { id: job.id, ok: false, failed: (error as Error)?.message ?? String(error) };
  }
  parentPort!.postMessage(verdict);
});
