#!/usr/bin/env node
// The x402 v2 reference client (`@x402/fetch` with `@x402/evm`'s `exact` scheme) paying for one request from
// an EOA: on a 402 it signs an EIP-3009 TransferWithAuthorization for the first requirement it can pay and
// sends the request again with the PAYMENT-SIGNATURE header.
//
//   node tools/x402/pay.mjs URL [JSON_BODY]      (a body makes it a POST with content-type application/json)
//
// Environment:
//   X402_PAYER_KEY   private key (0x-hex) of the paying EOA
//   X402_VERBOSE     1: also print the decoded PAYMENT-REQUIRED and PAYMENT-SIGNATURE headers on stderr
//
// Prints one JSON line on stdout: {"status":200,"body":...,"paymentResponse":{...}} with the decoded
// PAYMENT-RESPONSE header (the settlement receipt; null when absent), and "paymentRequired" (the decoded
// PAYMENT-REQUIRED header, whose `error` says why) when the final answer is still 402. Exits 1 when the final
// status is not 2xx, 2 on bad usage, 3 when no response came back (network error, payment not created).
import { privateKeyToAccount } from "viem/accounts";
import { decodePaymentResponseHeader, wrapFetchWithPaymentFromConfig } from "@x402/fetch";
import { decodePaymentRequiredHeader, decodePaymentSignatureHeader } from "@x402/core/http";
import { ExactEvmScheme } from "@x402/evm/exact/client";

const [url, body] = process.argv.slice(2);
const key = process.env.X402_PAYER_KEY;
if (!url || !key) {
  console.error("usage: X402_PAYER_KEY=0x... node pay.mjs URL [JSON_BODY]");
  process.exit(2);
}
const verbose = process.env.X402_VERBOSE === "1";

// fetch, tracing the x402 headers on stderr when asked.
async function tracingFetch(input, init) {
  const request = new Request(input, init);
  if (verbose && request.headers.has("PAYMENT-SIGNATURE")) {
    const payload = decodePaymentSignatureHeader(request.headers.get("PAYMENT-SIGNATURE"));
    console.error(`pay: PAYMENT-SIGNATURE ${JSON.stringify(payload)}`);
  }
  const response = await fetch(request);
  if (verbose && response.headers.has("PAYMENT-REQUIRED")) {
    const required = decodePaymentRequiredHeader(response.headers.get("PAYMENT-REQUIRED"));
    console.error(`pay: ${response.status} PAYMENT-REQUIRED ${JSON.stringify(required)}`);
  }
  return response;
}

// Any eip155 network the server names. Spend controls are off: they only admit the reference's table of
// mainnet and testnet assets, and a devnet token is in none of them.
const payingFetch = wrapFetchWithPaymentFromConfig(tracingFetch, {
  schemes: [{ network: "eip155:*", client: new ExactEvmScheme(privateKeyToAccount(key)) }],
  spendControls: false,
});

const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body };
let response;
try {
  response = await payingFetch(url, init);
} catch (error) {
  console.error(`pay: no response from ${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(3);
}

const text = await response.text();
let parsed;
try {
  parsed = JSON.parse(text);
} catch {
  parsed = text;
}
const receipt = response.headers.get("PAYMENT-RESPONSE");
const out = {
  status: response.status,
  body: parsed,
  paymentResponse: receipt ? decodePaymentResponseHeader(receipt) : null,
};
if (response.status === 402 && response.headers.has("PAYMENT-REQUIRED")) {
  out.paymentRequired = decodePaymentRequiredHeader(response.headers.get("PAYMENT-REQUIRED"));
}
process.stdout.write(`${JSON.stringify(out)}\n`);
if (!response.ok) {
  const reason = out.paymentRequired?.error ?? out.paymentResponse?.errorReason ?? text.slice(0, 200);
  console.error(`pay: ${url} answered ${response.status}${reason ? `: ${reason}` : ""}`);
  process.exit(1);
}
