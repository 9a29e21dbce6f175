/**
 * The worker thread of offThread.ts: checks large bodies (decode, canonical payload, HMAC) so the
 * event loop never spends more than a few milliseconds on a call before its signature is known.
 */
import { parentPort } from 'node:worker_threads';
import { KitRefusal } from './resultCodes.js';
import { schemeOf, verifyCall, type SchemeData, type SignedCall } from './verify.js';

export interface VerifyJob {
  id: number;
  scheme: SchemeData;
  call: SignedCall;
  bytes: Uint8Array;
}

export type VerifyVerdict =
  /** `text`: the body as read, so the event loop does not decode it again */
  | { id: number; ok: true; text: string }
  | { id: number; ok: false; resultCode: string; message: string }
  | { id: number; ok: false; failed: string };

parentPort?.on('message', (job: VerifyJob) => {
  let verdict: VerifyVerdict;
  try {
    verdict = { id: job.id, ok: true, text: verifyCall(schemeOf(job.scheme), job.call, job.bytes) };
  } catch (error) {
    verdict =
      error instanceof KitRefusal
        ? { id: job.id, ok: false, resultCode: error.resultCode, message: error.message }
        : { id: job.id, ok: false, failed: (error as Error)?.message ?? String(error) };
  }
  parentPort!.postMessage(verdict);
});
