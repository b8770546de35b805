#!/usr/bin/env node
// Starts the CLI on a Node.js that can run it: this one if it is new enough (>= 22.19, for Effect 4
// and TypeScript type stripping), otherwise the Node 24 the project installs as a dependency.
// It runs the bundle in dist/ (built by `npm run build`, which `npm install` runs; see
// run-bundle.js) unless a file under src/ is newer, so an edit is never hidden behind a stale build.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { runBundle } from "./run-bundle.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bundle = join(root, "dist", "medallion.cjs")
const sources = join(root, "src")

/** Newest modification time (ms) of any file under dir; 0 when dir does not exist. */
const newest = (dir) => {
  if (!existsSync(dir)) return 0
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return latest
}

const [major, minor] = process.versions.node.split(".").map(Number)

if (major > 22 || (major === 22 && minor >= 19)) {
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newest(sources)) runBundle(bundle)
  else await import(pathToFileURL(join(sources, "main.ts")).href)
} else {
  const require = createRequire(import.meta.url)
  let node
  try {
    node = require.resolve(`node-${process.platform === "win32" ? "win" : process.platform}-${process.arch}/bin/node${process.platform === "win32" ? ".exe" : ""}`)
  } catch {
    console.error(`medallion needs Node.js >= 22.19 (found ${process.version}); run npm install to get the bundled Node 24, or upgrade Node.js`)
    process.exit(2)
  }
  const result = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" })
  process.exit(result.status ?? (result.signal === "SIGINT" ? 130 : 1))
}
