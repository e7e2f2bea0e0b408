// FNV-1a 32 over UTF-8 plus MurmurHash3's finalizer: the same number personalize/lib/hashing.py
// computes (unit_hash), so the page and the server agree on who is in the hold-out group and which
// A/B variant a visitor sees without asking each other.
export function unit(text) {
  let h = 2166136261
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 16777619)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32
}

// Hold-out visitors get no campaigns (the server already handles their recommendations).
export const inHoldout = (holdout, vid) => !!holdout && holdout.share > 0 && unit(holdout.seed + ':' + vid) < holdout.share
