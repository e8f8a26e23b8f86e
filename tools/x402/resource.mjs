#!/usr/bin/env node
// A resource server behind the x402 v2 reference payment middleware (`@x402/express`): each request to
// /answer without a valid PAYMENT-SIGNATURE header gets 402 with the requirements in PAYMENT-REQUIRED; a paid
// one is verified by the facilitator, served, then settled, and the receipt comes back in PAYMENT-RESPONSE.
//
//   GET  /answer   -> {"answer":42}
//   POST /answer   -> {"answer":42,"echo":<the JSON body>}
//
// Environment:
//   X402_FACILITATOR_URL  the facilitator's base URL (its /supported must list the network at start-up)
//   X402_PAY_TO           the payee address
//   X402_ASSET            the token address (the devnet's USDC)
//   X402_PRICE            the price in raw token units (1000000 = 1 USDC)
//   X402_CHAIN_ID         the chain id (network "eip155:<id>")
//   X402_PORT             port on 127.0.0.1 (default 0: any free port)
//   X402_ASSET_NAME       the token's EIP-712 domain name (default "USD Coin (devnet)")
//   X402_ASSET_VERSION    the token's EIP-712 domain version (default "2")
//   X402_MAX_TIMEOUT_SECONDS  maxTimeoutSeconds of the requirements (default 300, the reference's default)
//
// Once listening it prints one JSON line on stdout, {"url":"http://127.0.0.1:PORT"}; everything else goes to
// stderr. SIGTERM or SIGINT stops it.
import express from "express";
import { paymentMiddlewareFromHTTPServer, x402HTTPResourceServer, x402ResourceServer } from "@x402/express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`resource: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const facilitatorUrl = env("X402_FACILITATOR_URL");
const payTo = env("X402_PAY_TO");
const asset = env("X402_ASSET");
const price = env("X402_PRICE");
const network = `eip155:${Number(env("X402_CHAIN_ID"))}`;
const port = Number(env("X402_PORT", "0"));
const maxTimeoutSeconds = Number(env("X402_MAX_TIMEOUT_SECONDS", "300"));
if (!/^[0-9]+$/.test(price)) {
  console.error(`resource: X402_PRICE must be raw token units (an integer), not ${JSON.stringify(price)}`);
  process.exit(2);
}

// The price as an amount of a given asset, so no default-asset table is consulted; `extra` carries the token's
// EIP-712 domain, which the client signs under and the facilitator verifies with.
const accepts = {
  scheme: "exact",
  network,
  payTo,
  price: {
    amount: price,
    asset,
    extra: {
      name: env("X402_ASSET_NAME", "USD Coin (devnet)"),
      version: env("X402_ASSET_VERSION", "2"),
    },
  },
  maxTimeoutSeconds,
};
const routes = {
  "GET /answer": { accepts, description: "The answer", mimeType: "application/json" },
  "POST /answer": { accepts, description: "The answer, with the request echoed", mimeType: "application/json" },
};

const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: facilitatorUrl })).register(
  network,
  new ExactEvmScheme(),
);
const httpServer = new x402HTTPResourceServer(resourceServer, routes);
try {
  // Reads the facilitator's /supported and checks the routes against it before serving anything.
  await httpServer.initialize();
} catch (error) {
  console.error(`resource: the facilitator at ${facilitatorUrl} is unreachable or does not serve ${network}: ${error.message}`);
  process.exit(1);
}

const app = express();
app.use(express.json({ limit: "1mb" }));
// Already initialised above, so the middleware need not sync with the facilitator again.
app.use(paymentMiddlewareFromHTTPServer(httpServer, undefined, undefined, false));
app.get("/answer", (_req, res) => res.json({ answer: 42 }));
app.post("/answer", (req, res) => res.json({ answer: 42, echo: req.body ?? null }));

const server = app.listen(port, "127.0.0.1", () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.error(`resource: ${price} of ${asset} on ${network} to ${payTo}, facilitator ${facilitatorUrl}`);
  process.stdout.write(`${JSON.stringify({ url })}\n`);
});
server.on("error", (error) => {
  console.error(`resource: cannot listen: ${error.message}`);
  process.exit(1);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
