import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Wallet } from 'ethers';

/**
 * The data owner's signing key: from FL_PRIVATE_KEY, else from a key file, created (mode 0600) on
 * first use so that a new data owner needs no other tool.
 */
export function loadOrCreateWallet(keyFile: string, env = process.env): { wallet: Wallet; created: boolean } {
  const fromEnv = env.FL_PRIVATE_KEY;
  if (fromEnv) return { wallet: new Wallet(fromEnv.trim()), created: false };
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim();
    try {
      return { wallet: new Wallet(key), created: false };
    } catch {
      throw new Error(`${keyFile} does not hold a 32-byte hex private key`);
    }
  }
  const w = Wallet.createRandom();
  writeFileSync(keyFile, `${w.privateKey}\n`, { mode: 0o600 });
  return { wallet: new Wallet(w.privateKey), created: true };
}
