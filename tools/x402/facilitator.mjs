#!/usr/bin/env node
// An x402 v2 facilitator over HTTP, made of the reference implementation unchanged: `@x402/core`'s
// `x402Facilitator` with `@x402/evm`'s `exact` scheme (EIP-3009 `transferWithAuthorization`; ERC-1271 for payers
// with code, ERC-6492 for counterfactual ones). Tests start it as a child process against a devnet.
//
//   POST /verify     {x402Version, paymentPayload, paymentRequirements} -> VerifyResponse
//   POST /settle     {x402Version, paymentPayload, paymentRequirements} -> SettleResponse
//   GET  /supported  -> {kinds, extensions, signers}
//
// Environment:
//   X402_FACILITATOR_KEY  private key (0x-hex) of the account that submits settlements and pays their gas
//   X402_RPC_URL          the chain's JSON-RPC URL
//   X402_CHAIN_ID         the chain id (31337: network "eip155:31337")
//   X402_PORT             port on 127.0.0.1 (default 0: any free port)
//
// Once listening it prints one JSON line on stdout, {"url":"http://127.0.0.1:PORT"}; everything else goes to
// stderr. SIGTERM or SIGINT stops it.
import express from "express";
import { createWalletClient, defineChain, http, publicActions } from "viem";
import { nonceManager, privateKeyToAccount } from "viem/accounts";
import { x402Facilitator } from "@x402/core/facilitator";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/facilitator";

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`facilitator: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const key = env("X402_FACILITATOR_KEY");
const rpcUrl = env("X402_RPC_URL");
const chainId = Number(env("X402_CHAIN_ID"));
const port = Number(env("X402_PORT", "0"));
const network = `eip155:${chainId}`;

// The devnet as a viem chain. The nonce manager keeps concurrent settlements from reusing a nonce.
const chain = defineChain({
  id: chainId,
  name: `devnet ${chainId}`,
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [rpcUrl] } },
});
const account = privateKeyToAccount(key, { nonceManager });
const client = createWalletClient({ account, chain, transport: http(rpcUrl) }).extend(publicActions);

// The signer interface the reference scheme expects, backed by the viem client.
const signer = toFacilitatorEvmSigner({
  address: account.address,
  getCode: (args) => client.getCode(args),
  readContract: (args) => client.readContract({ ...args, args: args.args ?? [] }),
  verifyTypedData: (args) => client.verifyTypedData(args),
  writeContract: (args) => client.writeContract({ ...args, args: args.args ?? [] }),
  sendTransaction: (args) => client.sendTransaction(args),
  waitForTransactionReceipt: (args) => client.waitForTransactionReceipt(args),
});

// Only this chain, only x402 v2 (registerExactEvmScheme would also register v1 on the public networks).
const facilitator = new x402Facilitator().register(network, new ExactEvmScheme(signer));

const app = express();
app.use(express.json({ limit: "1mb" }));

// POST /verify and /settle: the reference's answer, as it gives it (200 for valid and invalid payments alike);
// 400 for a request without the two objects, 500 when the facilitator throws.
function route(action) {
  return async (req, res) => {
    const { paymentPayload, paymentRequirements } = req.body ?? {};
    if (!paymentPayload || !paymentRequirements) {
      res.status(400).json({ error: "the body needs paymentPayload and paymentRequirements" });
      return;
    }
    try {
      const result = await facilitator[action](paymentPayload, paymentRequirements);
      console.error(`facilitator: ${action} ${JSON.stringify(result)}`);
      res.json(result);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`facilitator: ${action} failed: ${message}`);
      res.status(500).json({ error: message });
    }
  };
}
app.post("/verify", route("verify"));
app.post("/settle", route("settle"));
app.get("/supported", (_req, res) => res.json(facilitator.getSupported()));

const server = app.listen(port, "127.0.0.1", () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.error(`facilitator: ${network}, signer ${account.address}, RPC ${rpcUrl}`);
  process.stdout.write(`${JSON.stringify({ url })}\n`);
});
server.on("error", (error) => {
  console.error(`facilitator: cannot listen: ${error.message}`);
  process.exit(1);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
