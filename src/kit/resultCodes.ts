/** KooGallery's result codes for kit and basic answers (kit-sync-and-signing.md §5; contract §3, §3b). */
import { RelayError } from '../errors.js';
export const ResultCode = {
  success: '000000',
  authFailed: '000001',
  invalidRequest: '000002',
  /** basic interfaces: the instance is not known (refresh, status, upgrade, query) */
  instanceUnknown: '000003',
  internalError: '000005',
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** A call refused before anything was written; its sentence goes to the marketplace as `resultMsg`. */
export class KitRefusal extends RelayError {
  override readonly name = 'KitRefusal';
  declare readonly resultCode: ResultCode;
  constructor(resultCode: ResultCode, message: string) {
    super('refused', message, { resultCode, status: 400, expose: true });
  }
}
