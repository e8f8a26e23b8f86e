#!/usr/bin/env node
// Copies what the Rust side needs from the forge build (and the EntryPoint v0.7 npm artifacts) into
// crates/contracts/artifacts: the ABI, creation bytecode and runtime bytecode of each contract.
//
//   node tools/artifacts.js          write the artifacts
//   node tools/artifacts.js --check  fail when the committed artifacts differ from a fresh build
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const out = path.join(root, "contracts", "out");
const dest = path.join(root, "crates", "contracts", "artifacts");

// name -> forge output file (relative to contracts/out) or npm artifact (relative to node_modules).
const contracts = {
  LeashAccount: { forge: "LeashAccount.sol/LeashAccount.json" },
  LeashAccountFactory: { forge: "LeashAccountFactory.sol/LeashAccountFactory.json" },
  LeashFactoryStaker: { forge: "LeashFactoryStaker.sol/LeashFactoryStaker.json" },
  SessionKeyValidator: { forge: "SessionKeyValidator.sol/SessionKeyValidator.json" },
  DevToken: { forge: "DevToken.sol/DevToken.json" },
  GameItems: { forge: "GameItems.sol/GameItems.json" },
  DexRouter: { forge: "DexRouter.sol/DexRouter.json" },
  YieldVault: { forge: "YieldVault.sol/YieldVault.json" },
  DevPaymaster: { forge: "DevPaymaster.sol/DevPaymaster.json" },
  // Test-only validator modules that break (or, CleanValidator, respect) ERC-7562 validation rules.
  ClockValidator: { forge: "RuleBreakers.sol/ClockValidator.json" },
  Oracle: { forge: "RuleBreakers.sol/Oracle.json" },
  OracleValidator: { forge: "RuleBreakers.sol/OracleValidator.json" },
  CleanValidator: { forge: "RuleBreakers.sol/CleanValidator.json" },
  // The Solidity reference encoder of the packed session format, which the Rust encoder is held to.
  SessionEncoderHarness: { forge: "SessionEncoderHarness.sol/SessionEncoderHarness.json" },
  EntryPoint: { npm: "@account-abstraction/contracts/artifacts/EntryPoint.json" },
  EntryPointSimulations: { npm: "@account-abstraction/contracts/artifacts/EntryPointSimulations.json" },
};

function hex(field) {
  const value = typeof field === "string" ? field : field.object;
  return value.startsWith("0x") ? value : "0x" + value;
}

function extract(spec) {
  const file = spec.forge ? path.join(out, spec.forge) : path.join(root, "node_modules", spec.npm);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`make build\` (forge build) first`);
  }
  const artifact = JSON.parse(fs.readFileSync(file, "utf8"));
  const extracted = {
    abi: artifact.abi,
    bytecode: hex(artifact.bytecode),
    deployedBytecode: hex(artifact.deployedBytecode),
  };
  return JSON.stringify(extracted, null, 2) + "\n";
}

// EIP-170: runtime code past this many bytes cannot be deployed on a real chain (a local anvil may be run
// without the limit, so the devnet would not notice), so the leash contracts are held to it here.
const EIP170_LIMIT = 24576;
const deployable = ["LeashAccount", "LeashAccountFactory", "LeashFactoryStaker", "SessionKeyValidator"];

const check = process.argv.includes("--check");
const stale = [];
const oversized = [];
if (!check) fs.mkdirSync(dest, { recursive: true });
for (const [name, spec] of Object.entries(contracts)) {
  const file = path.join(dest, `${name}.json`);
  const fresh = extract(spec);
  const runtime = (JSON.parse(fresh).deployedBytecode.length - 2) / 2;
  if (deployable.includes(name) && runtime > EIP170_LIMIT) oversized.push(`${name} (${runtime} bytes)`);
  if (check) {
    const committed = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (committed !== fresh) stale.push(name);
  } else {
    fs.writeFileSync(file, fresh);
  }
}
if (oversized.length > 0) {
  console.error(`over the EIP-170 code size limit of ${EIP170_LIMIT} bytes: ${oversized.join(", ")}`);
  process.exit(1);
}
if (stale.length > 0) {
  console.error(
    `crates/contracts/artifacts is out of date with contracts/ for: ${stale.join(", ")}.\n` +
      "Run `make artifacts` and commit the result.",
  );
  process.exit(1);
}
if (check) console.log(`artifacts match contracts/ (${Object.keys(contracts).length} contracts)`);
