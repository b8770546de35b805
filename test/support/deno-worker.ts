/**
 * Deno's worker_threads lacks parentPort.removeAllListeners, which vitest's thread pool calls when
 * a worker finishes; give it a no-op there so the same suite runs on Deno. Does nothing on Node.
 */
import { parentPort } from "node:worker_threads"

if ("Deno" in globalThis && parentPort !== null) {
  try {
    parentPort.removeAllListeners("__probe__")
  } catch {
    Object.defineProperty(parentPort, "removeAllListeners", { value: () => parentPort, configurable: true })
  }
}
