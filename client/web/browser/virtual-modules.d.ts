/** Made by the page bundler (coordinator/http/join-bundle.ts): the ABIs of the contracts the page calls. */
declare module 'fl:contract-abis' {
  const abis: Record<string, import('ethers').InterfaceAbi>;
  export default abis;
}
