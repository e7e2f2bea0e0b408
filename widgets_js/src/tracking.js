// Who (visitor, session, customer), what they did (events), and what we remember of it (cart,
// viewed products), plus the events the page gives us without any code: page and product views,
// add/remove-to-cart clicks, JSON-LD orders.
import { num, orders, products } from './product.js'

const IDLE = 30 * 60 * 1000 // a session ends after 30 minutes without events
const TYPES = 'page_view product_view add_to_cart remove_from_cart purchase search identify rec_impression rec_click campaign_impression campaign_click campaign_close custom'.split(' ')
const FIELDS = 'product_id quantity price currency order_id items revenue query rec_id campaign_id'.split(' ')

const hex = () => crypto.getRandomValues(new Uint8Array(1))[0]
// crypto.randomUUID exists only in secure contexts; plain-http stores get the same v4 from bytes.
export const uuid = () =>
  crypto.randomUUID?.() ?? '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, c => (c ^ (hex() & (15 >> (c / 4)))).toString(16))

export function tracking(m) {
  const st = m.st
  // Returning = this device had a visitor id before the current session began.
  let seen = !!st.get('vid')
  m.vid = st.get('vid') || uuid()
  st.set('vid', m.vid)
  m.cid = st.get('cid')

  // The current session, rolled over after 30 idle minutes. peek: look without counting as activity.
  m.session = peek => {
    const now = Date.now()
    let s = st.get('s')
    if (!s || now - s.t > IDLE) s = { id: uuid(), r: seen, n: 0, c: 0, v: [] }
    if (!peek) {
      seen = true
      s.t = now
      st.set('s', s)
    }
    return s
  }
  m.cart = () => st.get('c') || []

  function remember(type, e, props) {
    const s = m.session()
    if (type == 'page_view') s.n++
    if (type == 'product_view') s.v = [...s.v.filter(v => v.p != e.product_id), { p: e.product_id, c: props.category }].slice(-20)
    st.set('s', s)
    let cart = m.cart()
    const line = cart.find(l => l.product_id == e.product_id)
    const qty = e.quantity || 1
    if (type == 'add_to_cart') {
      if (line) line.quantity += qty
      else cart.push({ product_id: e.product_id, quantity: qty, price: e.price })
      if (line && e.price != null) line.price = e.price
    }
    if (type == 'remove_from_cart' && line) {
      line.quantity = e.quantity ? line.quantity - e.quantity : 0
      cart = cart.filter(l => l.quantity > 0)
    }
    if (type == 'purchase') cart = []
    st.set('c', cart)
  }

  // pz('track', type, props): known fields go on the event, anything else into properties.
  m.track = (type, props = {}) => {
    const e = {
      event_id: uuid(),
      type,
      visitor_id: m.vid,
      session_id: m.session().id,
      ts: Date.now(),
      url: location.href.slice(0, 2048), // the collect API's limit
      referrer: m.ref.slice(0, 2048),
    }
    if (m.cid) e.customer_id = m.cid
    const extra = {}
    if (!TYPES.includes(type)) {
      e.type = 'custom'
      extra.name = type
    }
    for (const [k, v] of Object.entries(props)) {
      if (v == null) continue
      if (k == 'properties') Object.assign(extra, v)
      else if (!FIELDS.includes(k)) extra[k] = v
      else e[k] = /^(price|quantity|revenue)$/.test(k) ? num(v) : k.endsWith('_id') ? String(v) : v
    }
    if (e.items) e.items = e.items.map(i => ({ product_id: String(i.product_id), quantity: num(i.quantity) ?? 1, price: num(i.price) }))
    if (Object.keys(extra).length) e.properties = extra
    remember(e.type, e, props)
    m.send(e)
    return e
  }

  m.identify = id => {
    if (id == null || id === '') return // the collect API requires a customer id
    m.cid = String(id)
    st.set('cid', m.cid)
    m.track('identify')
  }

  // Product views and JSON-LD orders of the current page; once per URL and product (or order).
  const done = new Set()
  m.scan = () => {
    const key = pageKey()
    for (const p of products()) {
      if (!p.product_id || done.has(key + p.product_id)) continue
      done.add(key + p.product_id)
      m.product = p.product_id
      m.track('product_view', p)
    }
    for (const o of orders()) {
      if (done.has(o.order_id)) continue
      done.add(o.order_id)
      m.track('purchase', o)
    }
  }

  // Page views: on load and on History API navigation (single-page apps), once per URL.
  const pageKey = () => location.href.split('#')[0]
  let last = ''
  m.ref = document.referrer
  m.nav = () => {
    if (pageKey() == last) return
    if (last) m.ref = last
    last = pageKey()
    m.t0 = Date.now()
    m.track('page_view')
    for (const f of m.onNav) f()
  }
  m.onNav = []
  for (const k of ['pushState', 'replaceState']) {
    const orig = history[k]
    if (orig._pz) continue
    // Wrapped once per page; calls whichever snippet instance is current.
    history[k] = Object.assign(function (...a) {
      const r = orig.apply(this, a)
      window.pz?._m?.nav()
      return r
    }, { _pz: 1 })
  }
  m.on(window, 'popstate', m.nav)

  m.on(document, 'click', ev => {
    const t = ev.target.closest?.('[data-pz-add-to-cart],[data-pz-remove-from-cart]')
    if (!t) return
    const d = t.dataset
    m.track(d.pzAddToCart ? 'add_to_cart' : 'remove_from_cart', {
      product_id: d.pzAddToCart || d.pzRemoveFromCart,
      quantity: num(d.pzQuantity) ?? (d.pzAddToCart ? 1 : undefined), // a remove button removes the line
      price: d.pzPrice,
      currency: d.pzCurrency,
    })
  }, true)
}
