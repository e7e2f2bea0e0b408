// FNV-1a 32 bit over UTF-8: the same number personalize/lib/hashing.py computes, so the page and the
// server agree on who is in the hold-out group without asking each other.
export function fnv1a32(text) {
  let h = 2166136261
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 16777619) >>> 0
  return h
}

// Hold-out visitors get no campaigns (the server already handles their recommendations).
export const inHoldout = (holdout, vid) =>
  !!holdout && holdout.share > 0 && fnv1a32(holdout.seed + ':' + vid) / 2 ** 32 < holdout.share
