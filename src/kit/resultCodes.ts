/** KooGallery's result codes for kit answers (kit-sync-and-signing.md §5; contract §3). */
export const ResultCode = {
  success: '000000',
  authFailed: '000001',
  invalidRequest: '000002',
  internalError: '000005',
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** A push refused before anything was written. */
export class KitRefusal extends Error {
  constructor(
    readonly resultCode: ResultCode,
    message: string,
  ) {
    super(message);
  }
}
