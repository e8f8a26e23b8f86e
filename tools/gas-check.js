#!/usr/bin/env node
// Compares the gas figures of a `make gas` run (the JSON line of target/gas.log) with the committed ones in
// contracts/snapshots/GasBenchmark.json, scenario by scenario, and fails when one moved by more than the
// tolerance (percent, default 1): a change that costs gas is seen in review, and accepted by committing the
// snapshot `make gas` rewrites.
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const tolerance = Number(process.argv[2] ?? "1");
const log = fs.readFileSync(path.join(root, "target", "gas.log"), "utf8");
const line = log.split("\n").map((l) => l.trim()).filter((l) => l.startsWith('{"owner_native_transfer')).pop();
if (!line) throw new Error("target/gas.log holds no figures: run the gas benchmark first");
const measured = JSON.parse(line);
const committed = JSON.parse(fs.readFileSync(path.join(root, "contracts", "snapshots", "GasBenchmark.json"), "utf8"));

let failed = false;
for (const [name, value] of Object.entries(measured)) {
  if (!(name in committed)) {
    console.log(`${name}: ${value} (not in the snapshot: commit the one \`make gas\` writes)`);
    failed = true;
    continue;
  }
  const before = Number(committed[name]);
  const change = ((value - before) / before) * 100;
  const verdict = Math.abs(change) > tolerance ? "MOVED" : "ok";
  if (verdict !== "ok") failed = true;
  console.log(`${verdict.padEnd(5)} ${name}: ${before} -> ${value} (${change >= 0 ? "+" : ""}${change.toFixed(2)}%)`);
}
for (const name of Object.keys(committed)) {
  if (!(name in measured)) {
    console.log(`MISSING ${name}: in the snapshot, not measured`);
    failed = true;
  }
}
if (failed) {
  console.log(`gas moved by more than ${tolerance}%: if intended, run \`make gas\` and commit contracts/snapshots/`);
  process.exit(1);
}
