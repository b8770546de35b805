/**
 * A 128-bit content hash for change detection (table fingerprints, cache keys): four 32-bit
 * FNV-1a style lanes with different seeds. Pure and synchronous; not a security boundary.
 * The lanes advance together in one pass over the text (it runs on every apply, mostly before
 * the JIT has warmed up).
 */
const hex = (h: number) => (h >>> 0).toString(16).padStart(8, "0")

export const hash = (text: string): string => {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 1
  let c = 0x9e3779b9 ^ 2
  let d = 0x85ebca6b ^ 3
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    a = Math.imul(a ^ code, 0x01000193)
    a ^= a >>> 15
    b = Math.imul(b ^ code, 0x01000195)
    b ^= b >>> 15
    c = Math.imul(c ^ code, 0x01000197)
    c ^= c >>> 15
    d = Math.imul(d ^ code, 0x01000199)
    d ^= d >>> 15
  }
  return hex(a) + hex(b) + hex(c) + hex(d)
}
