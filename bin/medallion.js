#!/usr/bin/env node
// Starts the CLI on a Node.js that can run it: this one if it is new enough (>= 22.19, for Effect 4
// and TypeScript type stripping), otherwise the Node 24 the project installs as a dependency.
// It runs the bundle in dist/ (built by `npm run build`, which `npm install` runs; see
// run-bundle.js) unless a file under src/ is newer, so an edit is never hidden behind a stale build.
import { spawn } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { constants } from "node:os"
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
    console.error(`medallion needs Node.js >= 22.19 (found ${process.version}): upgrade Node.js (in a clone of its repository, npm install brings Node 24)`)
    process.exit(2)
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" })
  // Signals sent to this process go to the CLI, which decides how to stop (Ctrl-C and SIGTERM cancel
  // the run and release the lock); this process waits for it. On Windows a signal can only be sent
  // as a hard kill, and the console delivers Ctrl-C to the CLI itself.
  const forwarded = process.platform === "win32" ? [] : ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"].filter((signal) => signal in constants.signals)
  const forward = (signal) => child.kill(signal)
  for (const signal of forwarded) process.on(signal, forward)
  child.on("error", (error) => {
    console.error(`medallion: cannot start ${node}: ${error.message}`)
    process.exit(1)
  })
  child.on("exit", (code, signal) => {
    for (const s of forwarded) process.removeListener(s, forward)
    if (signal === null) process.exit(code ?? 1)
    // End the way the CLI ended, so that whoever started this process sees the same. A signal that
    // does not end a process (or SIGUSR1, which would start Node's inspector) ends it as a shell
    // reports one: 128 + the signal's number.
    if (signal !== "SIGUSR1") process.kill(process.pid, signal)
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100)
  })
}
