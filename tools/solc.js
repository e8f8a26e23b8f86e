#!/usr/bin/env node
// A `solc` command for forge, backed by the pinned solcjs (npm `solc`).
//
// forge calls its compiler as `solc [flags] --standard-json` with the input on stdin and asks for
// `--version` first. solcjs rejects several of forge's flags (`--allow-paths`, `--no-import-callback`),
// so this wrapper accepts them, resolves imports itself from the base path, the include paths and the
// allowed paths, and prints exactly what native solc prints for those two calls.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);

if (args.includes("--version")) {
  // forge reads the version from the second line, in native solc's format.
  const version = solc.version().replace(".Emscripten.clang", "");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}.Linux.g++\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("this solc wrapper only supports --version and --standard-json\n");
  process.exit(2);
}

function listFlag(name) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) values.push(...args[i + 1].split(","));
    else if (args[i].startsWith(name + "=")) values.push(...args[i].slice(name.length + 1).split(","));
  }
  return values;
}

const roots = [...listFlag("--base-path"), ...listFlag("--include-path"), ...listFlag("--allow-paths"), process.cwd()];

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((root) => path.join(root, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `file not found: ${importPath} (searched ${roots.join(", ")})` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
