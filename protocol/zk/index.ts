export * from './field.ts';
export * from './identity.ts';
export * from './members-tree.ts';
export * from './proofs.ts';
