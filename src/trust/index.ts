export { readTrustedKeys, TrustedKeysError, type AllowedSigner, type TrustedKeys } from './keys.js';
export {
  checkCommit,
  checkSignature,
  descendsFrom,
  rewriteMessage,
  splitSigned,
  TrustError,
  verifyCommit,
  type AncestryOptions,
  type CommitGate,
  type TrustMode,
  type TrustPolicy,
} from './verify.js';
export { artifactSignedBy, readArtifactKeys, ArtifactKeyError, type ArtifactKey } from './artifact.js';
export { commitShape, committedAt, signedBy, type CommitShape } from './commit-shape.js';
export {
  openSopsFile,
  readDecryptionKeys,
  looksLikeSops,
  DecryptionKeyError,
  NO_KEYS,
  SopsError,
  UNCHECKED_VALUE,
  type DecryptionKeys,
  type SopsResult,
} from './sops/index.js';
