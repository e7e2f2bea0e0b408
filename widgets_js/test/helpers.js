// A fresh page and a fake server for each test: fetch and sendBeacon are the browser's, so they
// are mocked, and every payload the snippet sends is recorded as parsed JSON.
import { vi } from 'vitest'
import { blocks } from '../src/blocks.js'
import { campaigns } from '../src/campaigns.js'
import { start } from '../src/core.js'

export const BASE = 'https://pz.test/'

export const CONFIG = {
  shop: { id: 3, currency: 'GBP', locale: 'en-GB' },
  consent: { required: false, honor_gpc: true, honor_dnt: true },
  holdout: { share: 0, seed: '3' },
  widgets: {
    for_you: { title: 'Recommended for you', limit: 8, layout: 'grid' },
    similar: { title: 'Similar items', limit: 4, layout: 'carousel' },
    trending: { title: 'Trending', limit: 8, layout: 'grid' },
    cart: { title: 'Complete your basket', limit: 4, layout: 'grid' },
  },
  budget: { per_session: 1, per_day: 2 },
  campaigns: [],
}

// Intersection observers that tests drive by hand: io.at(el, {ratio}) for every observer watching el.
export const observers = []
class FakeIO {
  constructor(cb, opts) {
    Object.assign(this, { cb, opts, els: new Set() })
    observers.push(this)
  }
  observe(el) { this.els.add(el) }
  unobserve(el) { this.els.delete(el) }
  disconnect() { this.els.clear() }
}
// el comes within the lazy-loading margin (300px) without being visible yet.
export function approach(el) {
  for (const o of observers.filter(o => o.els.has(el) && o.opts?.rootMargin))
    o.cb([{ target: el, isIntersecting: true, intersectionRatio: 0, intersectionRect: { height: 0 }, boundingClientRect: { height: 0 } }], o)
}
// Show el as visible: share of it intersecting (0..1), for a block `height` px tall.
export function intersect(el, share = 1, height = 400) {
  for (const o of observers.filter(o => o.els.has(el)))
    o.cb([{ target: el, isIntersecting: share > 0, intersectionRatio: share, intersectionRect: { height: share * height }, boundingClientRect: { height } }], o)
}

const json = (body, status = 200, headers = {}) => ({
  ok: status >= 200 && status < 300,
  status,
  headers: { get: k => headers[k] ?? null },
  json: async () => body,
})

// setup({config, collect, recs}) -> {m, sent, beacons, calls}: sent = collect payloads (parsed).
export async function setup({ config = CONFIG, collect, recs, tag = true, before, now = Date.parse('2025-03-01T10:00:00Z') } = {}) {
  vi.useFakeTimers({ now })
  window.pz?._m && (window.pz._m.dead = true)
  delete window.pz
  document.head.replaceChildren()
  document.body.replaceChildren()
  localStorage.clear()
  sessionStorage.clear()
  observers.length = 0
  vi.stubGlobal('IntersectionObserver', FakeIO)
  const sent = []
  const beacons = []
  const calls = []
  const fetch = vi.fn(async (url, opts) => {
    calls.push(url)
    if (url.startsWith(BASE + 'api/v1/config')) return typeof config == 'function' ? config() : json(config)
    if (url.startsWith(BASE + 'api/v1/recommendations')) return json(typeof recs == 'function' ? recs(url) : recs || { rec_id: 'r1', widget: 'for_you', items: [] })
    if (url == BASE + 'api/v1/collect') {
      sent.push(JSON.parse(opts.body))
      if (collect) return collect(JSON.parse(opts.body))
      return json({ accepted: 1 })
    }
    throw new TypeError('unexpected ' + url)
  })
  vi.stubGlobal('fetch', fetch)
  navigator.sendBeacon = vi.fn((url, body) => (beacons.push(JSON.parse(body)), true))
  before?.()
  let m = null
  if (tag) {
    const s = document.createElement('script')
    s.src = BASE + 'p.js'
    s.dataset.siteKey = 'pk_test'
    m = start(s)
    m.def('blocks', blocks)
    m.def('campaigns', campaigns)
    await vi.advanceTimersByTimeAsync(0) // the config answer
  }
  return { m, sent, beacons, calls, fetch, json }
}

export { json }
export const events = sent => sent.flatMap(p => p.events)
export const types = sent => events(sent).map(e => e.type)
export const stored = k => JSON.parse(localStorage.getItem('pz_' + k))
