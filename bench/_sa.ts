import { benchSecureAgg } from './secure-agg.ts';
console.log(await benchSecureAgg({ clients: Number(process.argv[2]), params: 1_000_000 }));
