#!/usr/bin/env node
// Copies what the Rust side needs from the forge build (and the npm artifacts of EntryPoint v0.7, of the
// Uniswap V2 and V3 releases, Permit2, Seaport 1.6 and Aave V3) into crates/contracts/artifacts: the ABI,
// creation bytecode and runtime bytecode of each contract, and where a contract links libraries, the offsets
// of their placeholders.
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
  DevUsdc: { forge: "DevUsdc.sol/DevUsdc.json" },
  DevCollection: { forge: "DevCollection.sol/DevCollection.json" },
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
  // Permit2 ships no artifact of its own. v4-periphery's test helper DeployPermit2.sol embeds the canonical
  // runtime code (which Uniswap's tests place at Permit2's address, as the devnet does); its ABI is the union of
  // the two interfaces Permit2 implements, plus the errors of its signature check and of PermitErrors.sol, whose
  // free-standing errors no shipped ABI lists and are read from the source.
  Permit2: {
    runtimeFromSource: "@uniswap/v4-periphery/lib/permit2/test/utils/DeployPermit2.sol",
    abiFrom: [
      "@uniswap/v4-periphery/foundry-out/ISignatureTransfer.sol/ISignatureTransfer.json",
      "@uniswap/v4-periphery/foundry-out/IAllowanceTransfer.sol/IAllowanceTransfer.default.json",
      "@uniswap/v4-periphery/foundry-out/SignatureVerification.sol/SignatureVerification.default.json",
    ],
    errorsFromSource: "@uniswap/v4-periphery/lib/permit2/src/PermitErrors.sol",
  },
  // Seaport 1.6 as @opensea/seaport-js compiles it for its own tests (solc 0.8.24, 200 runs, no via-IR): the
  // same source as the canonical deployment, not the same bytecode.
  Seaport: { npm: "@opensea/seaport-js/src/artifacts/seaport/contracts/Seaport.sol/Seaport.json" },
  ConduitController: {
    npm: "@opensea/seaport-js/src/artifacts/seaport/contracts/conduit/ConduitController.sol/LocalConduitController.json",
  },
  // Aave V3 as @aave/core-v3 ships it (hardhat, solc 0.8.10). Pool, PoolConfigurator and FlashLoanLogic link
  // libraries: their creation code keeps solc's placeholders, which the devnet replaces with the libraries'
  // addresses when it deploys them.
  ...Object.fromEntries(
    [
      "protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider",
      "protocol/configuration/ACLManager.sol/ACLManager",
      "protocol/libraries/logic/SupplyLogic.sol/SupplyLogic",
      "protocol/libraries/logic/BorrowLogic.sol/BorrowLogic",
      "protocol/libraries/logic/LiquidationLogic.sol/LiquidationLogic",
      "protocol/libraries/logic/EModeLogic.sol/EModeLogic",
      "protocol/libraries/logic/BridgeLogic.sol/BridgeLogic",
      "protocol/libraries/logic/PoolLogic.sol/PoolLogic",
      "protocol/libraries/logic/FlashLoanLogic.sol/FlashLoanLogic",
      "protocol/libraries/logic/ConfiguratorLogic.sol/ConfiguratorLogic",
      "protocol/pool/Pool.sol/Pool",
      "protocol/pool/PoolConfigurator.sol/PoolConfigurator",
      "protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy",
      "protocol/tokenization/AToken.sol/AToken",
      "protocol/tokenization/StableDebtToken.sol/StableDebtToken",
      "protocol/tokenization/VariableDebtToken.sol/VariableDebtToken",
      "misc/AaveOracle.sol/AaveOracle",
      "misc/AaveProtocolDataProvider.sol/AaveProtocolDataProvider",
      "mocks/oracle/CLAggregators/MockAggregator.sol/MockAggregator",
    ].map((file) => [path.basename(file), { npm: `@aave/core-v3/artifacts/contracts/${file}.json` }]),
  ),
};

function hex(field) {
  const value = typeof field === "string" ? field : field.object;
  return value.startsWith("0x") ? value : "0x" + value;
}

function npmFile(name) {
  const file = path.join(root, "node_modules", name);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`make toolchain\` (npm ci) first`);
  return fs.readFileSync(file, "utf8");
}

// A contract known by its runtime code and interfaces only (Permit2): the ABI items of every listed file, each
// once, and the runtime code, the one `hex"..."` literal of the Solidity file that embeds it. No creation code.
function assemble(spec) {
  const seen = new Set();
  const abi = [];
  // Overloads differ in their tuples' components (`permit` takes a PermitSingle or a PermitBatch).
  const canonical = (param) =>
    param.type.startsWith("tuple")
      ? `(${param.components.map(canonical).join(",")})${param.type.slice("tuple".length)}`
      : param.type;
  const add = (item) => {
    const key = `${item.type} ${item.name}(${(item.inputs ?? []).map(canonical).join(",")})`;
    if (!seen.has(key)) {
      seen.add(key);
      abi.push(item);
    }
  };
  for (const name of spec.abiFrom) JSON.parse(npmFile(name)).abi.forEach(add);
  for (const [, name, params] of npmFile(spec.errorsFromSource).matchAll(/^error (\w+)\(([^)]*)\);/gm)) {
    const inputs = params
      .split(",")
      .filter((param) => param.trim() !== "")
      .map((param) => {
        const [type, inputName] = param.trim().split(/\s+/);
        return { name: inputName ?? "", type, internalType: type };
      });
    add({ type: "error", name, inputs });
  }
  const literals = [...npmFile(spec.runtimeFromSource).matchAll(/hex"([0-9a-f]+)"/g)];
  if (literals.length !== 1) throw new Error(`${spec.runtimeFromSource}: expected one hex literal, found ${literals.length}`);
  return JSON.stringify({ abi, deployedBytecode: "0x" + literals[0][1] }, null, 2) + "\n";
}

// The contracts of a release, deployed to every chain at fixed addresses.
const deployable = ["LeashAccount", "LeashAccountFactory", "LeashFactoryStaker", "SessionKeyValidator"];

function extract(name, spec) {
  if (spec.runtimeFromSource) return assemble(spec);
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
  // Where the creation code holds library placeholders (`__$<hash>$__`), by file and library, in bytes.
  if (Object.keys(artifact.linkReferences ?? {}).length > 0) extracted.linkReferences = artifact.linkReferences;
  // The contracts of a release: where their runtime code holds immutables (set by the constructor, so they
  // differ from chain to chain), in bytes, so that `leash network check` compares everything else.
  if (deployable.includes(name)) {
    extracted.immutableReferences = Object.values(artifact.deployedBytecode.immutableReferences ?? {})
      .flat()
      .map(({ start, length }) => ({ start, length }))
      .sort((a, b) => a.start - b.start);
  }
  return JSON.stringify(extracted, null, 2) + "\n";
}

// EIP-170: runtime code past this many bytes cannot be deployed on a real chain (a local anvil may be run
// without the limit, so the devnet would not notice), so the leash contracts are held to it here.
const EIP170_LIMIT = 24576;

const check = process.argv.includes("--check");
const stale = [];
const oversized = [];
if (!check) fs.mkdirSync(dest, { recursive: true });
for (const [name, spec] of Object.entries(contracts)) {
  const file = path.join(dest, `${name}.json`);
  const fresh = extract(name, spec);
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
