/**
 * A 128-bit content hash for change detection (table fingerprints, cache keys): four 32-bit
 * FNV-1a style lanes with different seeds. Pure and synchronous; not a security boundary.
 */
export const hash = (text: string): string => {
  const seeds = [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b]
  return seeds.map((seed, lane) => {
    let h = seed ^ lane
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i)
      h = Math.imul(h, 0x01000193 + lane * 2)
      h ^= h >>> 15
    }
    return (h >>> 0).toString(16).padStart(8, "0")
  }).join("")
}
