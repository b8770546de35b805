// Runs the CLI bundle (dist/medallion.cjs and its chunks) with a V8 code cache taken after the run.
//
// Node's own compile cache (module.enableCompileCache) stores what V8 compiles up front, a module's
// top level; every function a command calls is compiled again on each run, and for a short command
// (a no-op apply) that is most of its own time. A Script's createCachedData(), taken once the
// command has run, also holds every function it compiled, so the next run deserializes them
// instead (BENCHMARKS.md). The cache lives in dist/.code-cache/, which a rebuild clears, one per
// subcommand (apply and serve call different functions); it is written when missing or refused
// (taking it costs ~25 ms, too much for every run). Where dist/ is read-only the bundle is loaded
// by Node as usual, with Node's compile cache.
import { accessSync, constants, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import * as nodeModule from "node:module"
import { basename, dirname, join, resolve } from "node:path"
import vm from "node:vm"

// The CommonJS wrapper, on a line of its own so that positions in the bundle stay as they are.
const header = "(function (exports, require, module, __filename, __dirname) {\n"

/** Where `file`'s cache is kept. V8 checks a cache against the source's length only, so the name carries the file's identity. */
const cacheFileOf = (cacheDir, file) => {
  const { size, mtimeMs } = statSync(file)
  return join(cacheDir, `${basename(file)}-${size}-${Math.trunc(mtimeMs)}-${process.version}-${process.arch}.bin`)
}

const readCache = (cacheFile) => {
  try {
    return readFileSync(cacheFile)
  } catch {
    return undefined
  }
}

const writable = (dir) => {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

const writeCache = (cacheFile, data) => {
  try {
    const draft = `${cacheFile}.${process.pid}.tmp`
    writeFileSync(draft, data)
    renameSync(draft, cacheFile)
  } catch {
    // Only speed is lost.
  }
}

/** Loads the bundle's entry; its relative `.cjs` requires (the chunks) load the same way, everything else through Node. */
export const runBundle = (entry) => {
  try {
    // For the modules outside the bundle (DuckDB's binding, the OpenTelemetry SDK), and for the
    // bundle itself where no code cache can be kept.
    nodeModule.enableCompileCache?.()
  } catch {
    // Only speed is lost.
  }
  const command = process.argv.slice(2).find((arg) => /^[a-z][a-z-]{0,30}$/.test(arg)) ?? "none"
  const cacheDir = join(dirname(entry), ".code-cache", command)
  if (!writable(cacheDir)) return void nodeModule.createRequire(entry)(resolve(entry))
  const modules = new Map()
  const uncached = []

  const load = (file) => {
    const known = modules.get(file)
    if (known !== undefined) return known.exports
    const module = { exports: {} }
    modules.set(file, module)
    const cacheFile = cacheFileOf(cacheDir, file)
    const cachedData = readCache(cacheFile)
    // No importModuleDynamically: the bundle has no import() (rolldown.config.ts), and Node's main
    // context loader for one is experimental.
    const script = new vm.Script(`${header}${readFileSync(file, "utf8")}\n})`, {
      filename: file,
      lineOffset: -1,
      cachedData
    })
    if (cachedData === undefined || script.cachedDataRejected === true) uncached.push({ script, cacheFile })
    const external = nodeModule.createRequire(file)
    const require = Object.assign((id) => (id.startsWith(".") && id.endsWith(".cjs") ? load(resolve(dirname(file), id)) : external(id)), {
      resolve: external.resolve,
      cache: external.cache
    })
    script.runInThisContext()(module.exports, require, module, file, dirname(file))
    return module.exports
  }

  // At exit the scripts hold every function this run compiled.
  process.once("exit", () => {
    for (const { script, cacheFile } of uncached) writeCache(cacheFile, script.createCachedData())
  })
  load(resolve(entry))
}
