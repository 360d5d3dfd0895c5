export { readTrustedKeys, TrustedKeysError, type AllowedSigner, type TrustedKeys } from './keys.js';
export {
  checkSignature,
  descendsFrom,
  splitSigned,
  TrustError,
  verifyCommit,
  type AncestryOptions,
  type TrustMode,
  type TrustPolicy,
} from './verify.js';
