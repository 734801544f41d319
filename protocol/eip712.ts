import { TypedDataEncoder, verifyTypedData, type Signer, type TypedDataDomain } from 'ethers';

/**
 * EIP-712 typed data. Signing an Update binds a wallet to exactly one delta for one round of one
 * task on top of one base checkpoint, so a signature can be neither replayed nor re-targeted.
 */
export interface Eip712Domain {
  name: string;
  version: string;
  chainId: number;
}

export const DEFAULT_DOMAIN: Eip712Domain = { name: 'VerifiableFL', version: '1', chainId: 31337 };

export const UPDATE_TYPES = {
  Update: [
    { name: 'task', type: 'uint256' },
    { name: 'round', type: 'uint256' },
    { name: 'baseHash', type: 'bytes32' },
    { name: 'updateHash', type: 'bytes32' },
    { name: 'numSamples', type: 'uint256' },
  ],
};

/**
 * A registration answers a coordinator challenge: the nonce is single-use and the signature is
 * worthless after expiresAt, so a registration seen on the wire cannot be replayed.
 */
export const REGISTRATION_TYPES = {
  Registration: [
    { name: 'task', type: 'uint256' },
    { name: 'client', type: 'address' },
    { name: 'nonce', type: 'bytes32' },
    { name: 'expiresAt', type: 'uint64' },
  ],
};

/** What the coordinator hands out at POST /v1/tasks/:task/clients/challenge. */
export interface RegistrationChallengeMessage {
  task: number;
  address: string;
  /** 0x-prefixed 32 random bytes. */
  nonce: string;
  /** Unix seconds. */
  expiresAt: number;
}

export interface UpdateMessage {
  task: number;
  round: number;
  baseHash: string;
  updateHash: string;
  numSamples: number;
}

export async function signUpdate(signer: Signer, domain: Eip712Domain, msg: UpdateMessage): Promise<string> {
  return signer.signTypedData(domain as TypedDataDomain, UPDATE_TYPES, msg);
}

/** Returns the lowercase address that signed the update (throws on a malformed signature). */
export function recoverUpdateSigner(domain: Eip712Domain, msg: UpdateMessage, signature: string): string {
  return verifyTypedData(domain as TypedDataDomain, UPDATE_TYPES, msg, signature).toLowerCase();
}

const registrationMessage = (c: RegistrationChallengeMessage) => ({ task: c.task, client: c.address, nonce: c.nonce, expiresAt: c.expiresAt });

export async function signRegistration(signer: Signer, domain: Eip712Domain, challenge: RegistrationChallengeMessage): Promise<string> {
  return signer.signTypedData(domain as TypedDataDomain, REGISTRATION_TYPES, registrationMessage(challenge));
}

/** Returns the lowercase address that signed the registration (throws on a malformed signature). */
export function recoverRegistrationSigner(domain: Eip712Domain, challenge: RegistrationChallengeMessage, signature: string): string {
  return verifyTypedData(domain as TypedDataDomain, REGISTRATION_TYPES, registrationMessage(challenge), signature).toLowerCase();
}

/** The EIP-712 digest of an update, for tools that verify off-line. */
export function updateDigest(domain: Eip712Domain, msg: UpdateMessage): string {
  return TypedDataEncoder.hash(domain as TypedDataDomain, UPDATE_TYPES, msg);
}
