/** Rebuilds dist/ (what bin/medallion.js runs) so a benchmark never measures a stale bundle. */
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import { join } from "node:path"

export const buildBundle = (repo: string): void => {
  const cli = join(repo, "node_modules", "rolldown", "bin", "cli.mjs")
  createRequire(import.meta.url).resolve("rolldown") // a clear error when dev dependencies are missing
  const result = spawnSync(process.execPath, [cli, "-c", "rolldown.config.ts"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] })
  if (result.status !== 0) throw new Error("npm run build failed; the benchmark needs the bundle in dist/")
}
