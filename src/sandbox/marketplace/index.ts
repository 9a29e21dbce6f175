/**
 * The marketplace's own signing and encryption for the sandbox, written from the protocol
 * document only, independently of the relay's src/kit and src/crypto.
 */
export {
  canonicalPayload,
  compareJavaStrings,
  JACKSON_LIMITS,
  JacksonParseError,
  jacksonQuote,
  javaDoubleToString,
  legacyCanonicalPayload,
  parseJavaTree,
  writeJava,
  type JavaValue,
} from './jackson.js';
export {
  basicInnerHex,
  basicSign,
  bodySignature,
  bodySignHeader,
  checkBodySign,
  javaUtf8,
  kitSign,
  newNonce,
} from './signing.js';
export {
  DEFAULT_OAEP_VARIANT,
  emeOaepEncode,
  encryptClientSecret,
  isOaepVariantId,
  loadSellerPublicKey,
  mgf1,
  MIN_RSA_BITS,
  OAEP_VARIANT_IDS,
  oaepEncryptBytes,
  type EncryptOptions,
  type OaepVariantId,
} from './oaep.js';
export { newOrder, newOrderId } from './orders.js';
export { formatExpireTime, formatSyncTime } from './times.js';
export {
  encryptContact,
  JavaSha1Prng,
  javaUrlEncode,
  v1AuthToken,
  v1ContactKey,
  v1Query,
  v1StringToSign,
  type EncryptType,
  type V1Value,
} from './v1.js';
