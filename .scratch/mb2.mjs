import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, createECDH } from 'node:crypto';
const { privateKey, publicKey } = generateKeyPairSync('x25519');
const b = generateKeyPairSync('x25519');
const pk8 = privateKey.export({ format: 'der', type: 'pkcs8' }); const spki = b.publicKey.export({ format: 'der', type: 'spki' });
const bench = (name, n, f) => { for (let i = 0; i < 5; i++) f(); const t = performance.now(); for (let i = 0; i < n; i++) f(); console.log(name, ((performance.now() - t) / n).toFixed(3), 'ms'); };
bench('dh only', 500, () => diffieHellman({ privateKey, publicKey: b.publicKey }));
bench('createPrivate', 500, () => createPrivateKey({ key: pk8, format: 'der', type: 'pkcs8' }));
bench('createPublic', 500, () => createPublicKey({ key: spki, format: 'der', type: 'spki' }));
bench('jwk public', 500, () => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b.publicKey.export({format:'jwk'}).x }, format: 'jwk' }));
