import { benchSecureAgg } from '../bench/secure-agg.ts';
const r = await benchSecureAgg({ clients: Number(process.argv[2]), params: Number(process.argv[3]) });
console.log(JSON.stringify(r));
