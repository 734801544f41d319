export * from './det-math.ts';
export * from './forward.ts';
export * from './validation-set.ts';
export * from './sketch.ts';
export * from './contribution.ts';
export * from './earlier.ts';
