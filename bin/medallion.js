#!/usr/bin/env node
// Starts the CLI on a Node.js that can run it: this one if it is new enough (>= 22.19, for Effect 4
// and TypeScript type stripping), otherwise the Node 24 the project installs as a dependency.
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const main = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "main.ts")
const [major, minor] = process.versions.node.split(".").map(Number)

if (major > 22 || (major === 22 && minor >= 19)) {
  await import(pathToFileURL(main).href)
} else {
  const require = createRequire(import.meta.url)
  let node
  try {
    node = require.resolve(`node-${process.platform === "win32" ? "win" : process.platform}-${process.arch}/bin/node${process.platform === "win32" ? ".exe" : ""}`)
  } catch {
    console.error(`medallion needs Node.js >= 22.19 (found ${process.version}); run npm install to get the bundled Node 24, or upgrade Node.js`)
    process.exit(2)
  }
  const result = spawnSync(node, [main, ...process.argv.slice(2)], { stdio: "inherit" })
  process.exit(result.status ?? (result.signal === "SIGINT" ? 130 : 1))
}
