#!/usr/bin/env node
// Copies what the Rust side needs from the forge build (and the npm artifacts of EntryPoint v0.7 and of the
// Uniswap V2 and V3 releases) into crates/contracts/artifacts: the ABI, creation bytecode and runtime bytecode
// of each contract.
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
  // The module passes on the errors of the ArgumentPaths contract it creates and calls (argument paths): they
  // are listed in its ABI so that they decode as the module's own.
  SessionKeyValidator: {
    forge: "SessionKeyValidator.sol/SessionKeyValidator.json",
    errorsFrom: "ArgumentPaths.sol/ArgumentPaths.json",
  },
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
  // The Uniswap releases as published, the bytecode mainnet runs: the devnet deploys them unchanged so session
  // policies are tested against the real routers. The pair and the pool are created by their factories; their
  // creation code is kept so a test can hold it to the init code hashes the routers have built in.
  UniswapV2Factory: { npm: "@uniswap/v2-core/build/UniswapV2Factory.json" },
  UniswapV2Pair: { npm: "@uniswap/v2-core/build/UniswapV2Pair.json" },
  UniswapV2Router02: { npm: "@uniswap/v2-periphery/build/UniswapV2Router02.json" },
  UniswapV3Factory: { npm: "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json" },
  UniswapV3Pool: { npm: "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json" },
  SwapRouter: { npm: "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json" },
  QuoterV2: { npm: "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json" },
  NonfungiblePositionManager: {
    npm: "@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json",
  },
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
  let abi = artifact.abi;
  if (spec.errorsFrom) {
    const known = new Set(abi.filter((item) => item.type === "error").map((item) => item.name));
    const passed = JSON.parse(fs.readFileSync(path.join(out, spec.errorsFrom), "utf8")).abi;
    abi = abi.concat(passed.filter((item) => item.type === "error" && !known.has(item.name)));
  }
  const extracted = {
    abi,
    bytecode: hex(artifact.bytecode),
    // Uniswap V2's artifacts (waffle, solc 0.5/0.6) have the runtime code only under `evm`.
    deployedBytecode: hex(artifact.deployedBytecode ?? artifact.evm.deployedBytecode),
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
