# leash: every command installs what it needs from the pinned toolchain (package.json + lock).
SHELL := /bin/bash
# forge's own exit status (the npm launcher in node_modules/.bin reports success whatever forge returns).
FORGE := $(CURDIR)/tools/forge
export FOUNDRY_SOLC := $(CURDIR)/tools/solc
export FOUNDRY_OFFLINE := true

.PHONY: all toolchain postgres build artifacts check-artifacts demo devnet test test-contracts test-rust test-load test-alto differential gas gas-check fmt lint clean bench

all: test

# Installs anvil, forge, solcjs and the Solidity libraries at the versions the lock pins.
# `npm ci` installs exactly what the lock lists (it lists the per-platform anvil and forge packages, so every
# platform installs its own binary) and never rewrites the lock, so a fresh clone stays clean.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

toolchain: node_modules/.installed

## PostgreSQL from the distribution's packages (the service's tests start servers of their own with it).
postgres:
	@bash tools/postgres.sh

build: toolchain
	cd contracts && $(FORGE) build
	cargo build --workspace --all-targets

## The demo: agents acting through session keys on a local chain and bundler (`make demo ARGS=--json` for JSON).
demo: toolchain
	cargo run -p leash-cli --bin leash -- demo $(ARGS)

## The local chain and bundler, until Ctrl-C.
devnet: toolchain
	cargo run -p leash-cli --bin leash -- devnet $(ARGS)

## Refreshes the contract artifacts the Rust crates embed (commit the result).
artifacts: toolchain
	cd contracts && $(FORGE) build
	node tools/artifacts.js

## Fails when the committed artifacts no longer match contracts/.
check-artifacts: toolchain
	cd contracts && $(FORGE) build --sizes --skip test --skip script
	cd contracts && $(FORGE) build
	node tools/artifacts.js --check

## Runs every test: forge (unit, fuzz, invariant, through the real EntryPoint v0.7) and cargo.
test: test-rust test-contracts

test-contracts: toolchain
	cd contracts && $(FORGE) test

test-rust: check-artifacts postgres
	cargo test --workspace -- --skip preflight_agrees_with_the_chain
	# The differential test prints how many cases it ran and the verdicts by rule. It is picked by name from the
	# same `--workspace` build (every other test binary runs 0 tests): `-p leash-sdk` or `--test integration`
	# would resolve dependency features differently and compile about a hundred crates again.
	cargo test --workspace -- preflight_agrees_with_the_chain --nocapture

## The service's load and fault test: 3 replicas of `leash serve` on one PostgreSQL, 200 agents of 20 tenants,
## 2,000 operations through the local bundler, one replica killed mid-run (about 4 minutes).
test-load: check-artifacts postgres
	cargo test --workspace -- --ignored three_replicas_two_thousand_operations --nocapture

## leash through a bundler it did not write: Pimlico's alto 0.0.18 from npm, its ERC-7562 safe mode on, bound to
## the loopback (tools/alto.sh installs it into target/alto).
test-alto: check-artifacts
	LEASH_ALTO=$$(tools/alto.sh) cargo test --workspace -- --ignored _through_alto --nocapture

## The pre-flight against the chain on 100,000 random cases (`make test` runs 2,000); LEASH_DIFF_SEED picks the seed.
differential: check-artifacts
	LEASH_DIFF_CASES=$${LEASH_DIFF_CASES:-100000} cargo test --release -p leash-sdk --test integration differential:: -- --nocapture

## Gas of one UserOperation per handleOps on the real EntryPoint; the last line is a JSON object.
## Also rewrites the committed figures (contracts/snapshots/GasBenchmark.json, contracts/.gas-snapshot).
gas: toolchain
	@mkdir -p target
	set -o pipefail; cd contracts && FOUNDRY_GAS_SNAPSHOT_EMIT=true $(FORGE) test --isolate --match-contract GasBenchmark -vv | tee ../target/gas.log
	cd contracts && $(FORGE) snapshot --isolate --match-contract GasBenchmark
	@grep -o '^ *{"owner_native_transfer.*}' target/gas.log | tail -1 | tr -d ' '

## Fails when the gas of a scenario (or of the whole benchmark, `forge snapshot --check`) moved by more than 1%
## from the committed figures; run by CI. To accept a change, run `make gas` and commit what it rewrites.
gas-check: toolchain
	@mkdir -p target
	set -o pipefail; cd contracts && $(FORGE) test --isolate --match-contract GasBenchmark -vv | tee ../target/gas.log
	node tools/gas-check.js 1
	cd contracts && $(FORGE) snapshot --isolate --match-contract GasBenchmark --check --tolerance 1

## Criterion benchmarks (release): pre-flight, session encoding and policy file; signed UserOperations; then
## 200 session operations through the local bundler from 8 nonce lanes against one lane; then x402 payments of one
## agent to a leash-served endpoint (402 to paid resource, and payments per second); then `leash serve`:
## operations per second through one replica and three, explain and send latency, and one replica's memory with
## 10,000 sessions of 1,000 tenants.
bench: toolchain
	cargo bench -p leash-core --bench policy
	cargo bench -p leash-sdk --bench userop
	cargo bench -p leash-demo --bench lanes
	cargo bench -p leash-x402 --bench payments
	cargo bench -p leash-cli --bench serve

fmt: toolchain
	cd contracts && $(FORGE) fmt
	cargo fmt --all

lint: toolchain
	cd contracts && $(FORGE) fmt --check
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf contracts/out contracts/cache target node_modules
