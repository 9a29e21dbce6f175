/** KooGallery's result codes for kit and basic answers (kit-sync-and-signing.md §5; contract §3, §3b). */
export const ResultCode = {
  success: '000000',
  authFailed: '000001',
  invalidRequest: '000002',
  /** basic interfaces: the instance is not known (refresh, status, upgrade, query) */
  instanceUnknown: '000003',
  internalError: '000005',
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** A call refused before anything was written. */
export class KitRefusal extends Error {
  constructor(
    readonly resultCode: ResultCode,
    message: string,
  ) {
    super(message);
  }
}
