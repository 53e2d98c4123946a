#!/usr/bin/env node
// A `solc` command line over solc-js (the official compiler built to WASM), for py-solc-x and brownie.
// It speaks just what they use: `--version` and `--standard-json` on stdin. Imports are read from disk,
// relative to --base-path, --include-path, --allow-paths or the working directory.
// Output goes through fs.writeSync: process.stdout.write on a pipe is cut at 64 KiB when node exits.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

function writeAll(fd, text) {
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
    }
  }
}

function readStdin() {
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code === "EAGAIN") continue;
      if (err.code === "EOF") break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  writeAll(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  writeAll(2, "solc bridge: only --version and --standard-json are supported\n");
  process.exit(1);
}

const roots = [];
for (let i = 0; i < args.length; i++) {
  if (["--base-path", "--include-path", "--allow-paths"].includes(args[i]) && i + 1 < args.length) {
    roots.push(...args[i + 1].split(","));
  }
}
roots.push(process.cwd());

function findImport(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.join(r, importPath));
  for (const candidate of candidates) {
    try {
      return { contents: fs.readFileSync(candidate, "utf8") };
    } catch (err) {
      // try the next root
    }
  }
  return { error: `File not found: ${importPath}` };
}

const output = solc.compile(readStdin(), { import: findImport });
writeAll(1, output);
