// Recommendation blocks (chunk pz-blocks): fill every [data-pz-widget] placeholder when it comes
// within 300px of the viewport, inside the room the core reserved, in a shadow root.
import { el, safeUrl, shadow } from './dom.js'

const CSS = `:host{display:block}
.b{font-family:var(--pz-font,inherit);color:var(--pz-text,inherit)}
.h{margin:0 0 12px;font-size:18px;line-height:24px;height:24px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.g{display:grid;gap:16px;grid-template-columns:repeat(var(--c),minmax(0,1fr))}
.c{grid-template-columns:none;grid-auto-flow:column;grid-auto-columns:var(--w);height:296px;align-items:start;overflow-x:auto;scroll-snap-type:x mandatory}
.k{display:flex;flex-direction:column;background:var(--pz-card-bg,#fff);border-radius:var(--pz-radius,8px);overflow:hidden;color:inherit;text-decoration:none;scroll-snap-align:start;box-shadow:0 1px 3px #0003}
.k:focus-visible{outline:2px solid var(--pz-accent,#2563eb);outline-offset:-2px}
img{display:block;width:100%;height:180px;object-fit:cover;background:#0001}
.n{margin:8px 10px 0;height:40px;line-height:20px;font-size:14px;overflow:hidden;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical}
.p{margin:4px 10px 0;height:20px;line-height:20px;font-weight:600;color:var(--pz-accent,inherit)}
.r{margin:2px 10px 10px;height:16px;line-height:16px;font-size:12px;opacity:.7;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.e{margin:0;opacity:.7}`

const sleep = ms => new Promise(r => setTimeout(r, ms))
const formats = {}
// Intl does the currency symbol, decimals and grouping the shop's locale expects.
export function money(price, currency, locale) {
  if (price == null) return ''
  try {
    const key = locale + currency
    formats[key] ||= new Intl.NumberFormat(locale || undefined, { style: 'currency', currency })
    return formats[key].format(price)
  } catch {
    return String(price) // unknown currency code
  }
}

export function blocks(m) {
  const hosts = new Map() // placeholder -> {data, half, seen, timer, done}
  const near = new IntersectionObserver(
    list => list.forEach(e => e.isIntersecting && (near.unobserve(e.target), fill(e.target))),
    { rootMargin: '300px 0px' }
  )
  // Impression: half the block (or half the viewport, for a tall one) visible for a second.
  const view = new IntersectionObserver(
    list => list.forEach(e => {
      const s = hosts.get(e.target)
      s.seen ||= e.isIntersecting
      s.half = e.isIntersecting && e.intersectionRect.height >= Math.min(e.boundingClientRect.height, innerHeight) / 2
      arm(s)
    }),
    { threshold: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] }
  )

  function arm(s) {
    if (!s.half) s.timer = clearTimeout(s.timer)
    else if (s.data?.items?.length && !s.done && !s.timer)
      s.timer = setTimeout(() => {
        s.done = true
        const d = s.data
        m.track('rec_impression', { rec_id: d.rec_id, properties: { widget: d.widget, product_ids: d.items.map(i => i.product_id) } })
      }, 1000)
  }

  function watch(host) {
    if (hosts.has(host)) return false
    hosts.set(host, {})
    view.observe(host)
    return true
  }

  function query(host, type, limit) {
    const d = host.dataset
    const w = m.cfg.widgets?.[type] || {} // the shop's default filters; the placeholder's own win
    const q = { site_key: m.key, widget: type, limit }
    if (m.allowed) Object.assign(q, { visitor_id: m.vid, session_id: m.session().id, customer_id: m.cid })
    q.product_id = d.pzProduct || (/similar|bought/.test(type) ? m.product : '')
    if (type == 'cart') q.cart = m.cart().map(l => l.product_id).join(',')
    Object.assign(q, { category: d.pzCategory || w.category, min_price: d.pzMinPrice || w.min_price, max_price: d.pzMaxPrice || w.max_price })
    const p = new URLSearchParams()
    for (const k in q) if (q[k]) p.set(k, q[k])
    return m.base + 'api/v1/recommendations?' + p
  }

  async function fill(host) {
    const cfg = await m.ready
    const type = host.dataset.pzWidget
    const l = m.layout(host, cfg.widgets?.[type])
    m.reserve(host, l.height)
    // Send this page's events first, so the answer already reflects them (briefly: never block).
    await Promise.race([m.flush(), sleep(1000)])
    let data = null
    try {
      const res = await fetch(query(host, type, l.limit))
      if (res.ok) data = await res.json()
    } catch { /* shown as empty */ }
    render(host, data, l, cfg)
  }

  function render(host, data, l, cfg) {
    const s = hosts.get(host)
    const root = shadow(host, CSS)
    const items = data?.items || []
    const box = el('div', 'b')
    if (l.title) box.append(el('h2', 'h', l.title))
    if (s.hidden) host.style.removeProperty('display')
    s.hidden = false
    host.dataset.pzState = items.length ? 'ready' : 'empty'
    if (!items.length) {
      // Collapse only what the shopper never saw and is below the fold: nothing visible moves.
      if (!s.seen && host.getBoundingClientRect().top >= innerHeight) {
        host.style.setProperty('display', 'none')
        s.hidden = true
      }
      box.append(el('p', 'e', 'No recommendations yet.'))
    } else {
      const list = el('div', l.carousel ? 'g c' : 'g')
      list.style.setProperty('--c', l.cols)
      list.style.setProperty('--w', l.card + 'px')
      items.forEach((item, i) => list.append(card(item, i, data, l, cfg)))
      box.append(list)
    }
    root.replaceChildren(box)
    Object.assign(s, { data, done: false, timer: clearTimeout(s.timer) })
    arm(s)
  }

  function card(item, i, data, l, cfg) {
    const a = el('a', 'k')
    const href = safeUrl(item.url)
    if (href) a.href = href
    const img = el('img')
    const src = safeUrl(item.image_url)
    if (src) img.src = src
    img.alt = '' // the title below says it
    img.loading = 'lazy'
    img.decoding = 'async'
    img.width = Math.round(l.card)
    img.height = 180
    const shop = cfg.shop || {}
    a.append(img, el('div', 'n', item.title), el('div', 'p', money(item.price, item.currency || shop.currency, shop.locale)), el('div', 'r', item.reason))
    a.addEventListener('click', () => {
      // Queued (persistently) and sent with keepalive before the browser follows the link.
      m.track('rec_click', { rec_id: data.rec_id, product_id: item.product_id, properties: { widget: data.widget, position: i } })
      m.flush()
    })
    return a
  }

  return {
    // Observe placeholders not seen before; they fill when they come near the viewport.
    scan() {
      for (const h of document.querySelectorAll('[data-pz-widget]')) if (watch(h)) near.observe(h)
    },
    // Fill again (single-page apps, pz('refresh')); placeholders gone from the page are forgotten.
    refresh() {
      for (const [h, s] of hosts) {
        if (!h.isConnected) hosts.delete(h)
        else if (s.data !== undefined) fill(h)
      }
    },
    // Render now, without waiting to be near the viewport (a block inside a pop-up).
    show(host) {
      watch(host)
      return fill(host)
    },
  }
}
