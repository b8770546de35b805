// The package.json that `npm pack` publishes, and back: `prepack` swaps in the published manifest,
// `postpack` restores the repository's. The package runs dist/ (the bundle, built by prepack), so it
// needs neither build tools nor the libraries the bundle inlines, and it does not bring a Node.js of
// its own: a clone does (optionalDependencies: the system Node may be older than 22.19), but for an
// installed package that is a 190 MB download most users do not need. Its `engines` say what it runs on.
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"

const saved = "package.json.repository"

if (process.argv[2] === "restore") {
  if (existsSync(saved)) renameSync(saved, "package.json")
} else {
  const manifest = JSON.parse(readFileSync("package.json", "utf8"))
  copyFileSync("package.json", saved)
  const { scripts: _scripts, devDependencies: _dev, optionalDependencies: _node, ...published } = manifest
  writeFileSync("package.json", `${JSON.stringify({ ...published, engines: { node: ">=22.19" } }, null, 2)}\n`)
}
