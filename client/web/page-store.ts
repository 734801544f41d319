import { Wallet } from 'ethers';
import { createStore, del, get, set } from 'idb-keyval';
import { createIdentity, type Identity } from '../../protocol/zk/identity.ts';
import { formatIdentityFile, parseIdentityFile } from '../identity-format.ts';
import type { LabelledData } from '../tf/train-loop.ts';

/**
 * What the page keeps in the browser's IndexedDB, for this origin only: the page's own signing key
 * (when no wallet is injected), its member identity for private tasks, payout keys of private claims, the data the owner loaded (so a reload can resume without choosing
 * files again), and a record of every upload (so a reload never trains or uploads twice for a round
 * it already took part in). None of it is ever sent.
 */

const db = createStore('fl-join', 'kv');

const KEY = 'page-key';
const HEX_KEY = /^0x[0-9a-fA-F]{64}$/;

/** The CLI's key file: the private key as 0x-prefixed hex on one line (client/wallet-file.ts reads the same). */
export const keyFileText = (w: Wallet): string => `${w.privateKey}\n`;

/** The file name an exported key is offered under. */
export const exportName = (address: string): string => `fl-client-${address.slice(2, 10).toLowerCase()}.key`;

/** A key file's wallet; throws with a message naming what is wrong. */
export function parseKeyFile(text: string): Wallet {
  const key = text.trim();
  if (!HEX_KEY.test(key)) throw new Error('a key file holds one 0x-prefixed 32-byte hex private key (as fl-client writes to fl-client.key)');
  return new Wallet(key);
}

/** The page's key, made and stored on first use. */
export async function pageKey(): Promise<{ wallet: Wallet; created: boolean }> {
  const stored = await get<string>(KEY, db);
  if (stored) return { wallet: parseKeyFile(stored), created: false };
  const w = Wallet.createRandom();
  await set(KEY, w.privateKey, db);
  return { wallet: new Wallet(w.privateKey), created: true };
}

/** Replaces the page's key by the one of a CLI key file. */
export async function importKeyFile(text: string): Promise<Wallet> {
  const w = parseKeyFile(text);
  await set(KEY, w.privateKey, db);
  return w;
}

/** One upload the page made: enough to find its verdict again after a reload. */
export interface UploadRecord {
  task: number;
  round: number;
  address: string;
  updateHash: string;
  jobId: string;
  numSamples: number;
  at: string;
}

const uploadsKey = (coordinator: string, task: number, address: string) => `uploads|${coordinator}|${task}|${address.toLowerCase()}`;

export async function listUploads(coordinator: string, task: number, address: string): Promise<UploadRecord[]> {
  return (await get<UploadRecord[]>(uploadsKey(coordinator, task, address), db)) ?? [];
}

export async function recordUpload(coordinator: string, r: UploadRecord): Promise<void> {
  const k = uploadsKey(coordinator, r.task, r.address);
  const list = ((await get<UploadRecord[]>(k, db)) ?? []).filter((u) => u.round !== r.round);
  list.push(r);
  await set(k, list.slice(-200), db);
}

/** The data the owner loaded for a task, with a word on where it came from. */
export interface StoredData {
  data: LabelledData;
  source: string;
  inputShape: number[];
}

const dataKey = (coordinator: string, task: number) => `data|${coordinator}|${task}`;

export const saveData = (coordinator: string, task: number, d: StoredData): Promise<void> => set(dataKey(coordinator, task), d, db);
export const loadData = (coordinator: string, task: number): Promise<StoredData | undefined> => get<StoredData>(dataKey(coordinator, task), db);
export const forgetData = (coordinator: string, task: number): Promise<void> => del(dataKey(coordinator, task), db);

/** The owner asked to keep taking part in a task: after a reload the page picks it up again. */
const activeKey = (coordinator: string) => `active|${coordinator}`;
export const setActiveTask = (coordinator: string, task: number | null): Promise<void> => (task === null ? del(activeKey(coordinator), db) : set(activeKey(coordinator), task, db));
export const activeTask = (coordinator: string): Promise<number | undefined> => get<number>(activeKey(coordinator), db);

/**
 * The page's member identity for private tasks (protocol/zk): its secret stays in this browser and
 * in the prover worker; the owner gives its commitment to the task admin, who admits it. The file
 * format is fl-client's (client/identity-format.ts), so one identity can move between the two.
 */
const MEMBER = 'member-identity';

export async function memberIdentity(): Promise<{ identity: Identity; created: boolean }> {
  const stored = await get<string>(MEMBER, db);
  if (stored) return { identity: parseIdentityFile(stored, 'the identity kept in this browser'), created: false };
  const identity = createIdentity();
  await set(MEMBER, formatIdentityFile(identity), db);
  return { identity, created: true };
}

/** Replaces the page's member identity by the one of an fl-client identity file (checked first). */
export async function importIdentityFile(text: string, name: string): Promise<Identity> {
  const identity = parseIdentityFile(text, name);
  await set(MEMBER, formatIdentityFile(identity), db);
  return identity;
}

export const identityFileText = (id: Identity): string => formatIdentityFile(id);
export const identityExportName = (id: Identity): string => `fl-identity-${id.commitment.toString(16).slice(0, 8)}.json`;

/** Fresh payout addresses made for private claims (so the payout is not linked to the sender); kept until exported. */
const PAYOUTS = 'payout-keys';

export async function freshPayoutKey(): Promise<Wallet> {
  const w = Wallet.createRandom();
  const list = (await get<string[]>(PAYOUTS, db)) ?? [];
  list.push(w.privateKey);
  await set(PAYOUTS, list, db);
  return new Wallet(w.privateKey);
}
