// What the page already says about products and orders: schema.org JSON-LD (also inside @graph
// or mainEntity), or data-pz-* attributes. Pure functions of the document.

// Prices come as text in JSON-LD ("12.50"); the collect API wants numbers.
export const num = v => (v == null || v === '' || isNaN(v) ? undefined : +v)
const first = v => (Array.isArray(v) ? v[0] : v)
const is = (n, type) => [].concat(n['@type']).includes(type)
const pid = n => (n && (n.sku ?? n.productID) != null ? String(n.sku ?? n.productID) : undefined)
const category = c => (Array.isArray(c) ? c.join(' > ') : c?.name ?? c) || undefined

function nodes(doc) {
  const out = []
  const walk = n => {
    if (Array.isArray(n)) n.forEach(walk)
    else if (n && typeof n == 'object') {
      out.push(n)
      walk(n['@graph'])
      walk(n.mainEntity)
    }
  }
  for (const s of doc.querySelectorAll('script[type="application/ld+json"]')) {
    try { walk(JSON.parse(s.textContent)) } catch { /* a broken block is the store's problem, not ours */ }
  }
  return out
}

// [{product_id, price, currency, category}] viewed on this page.
export function products(doc = document) {
  const out = []
  for (const n of nodes(doc)) {
    const id = is(n, 'Product') && pid(n)
    if (!id) continue
    const o = first(n.offers) || {}
    out.push({ product_id: id, price: num(o.price ?? o.lowPrice), currency: o.priceCurrency, category: category(n.category) })
  }
  for (const e of doc.querySelectorAll('[data-pz-product-view]')) {
    const d = e.dataset
    out.push({ product_id: d.pzProductView, price: num(d.pzPrice), currency: d.pzCurrency, category: d.pzCategory })
  }
  return out
}

// A line of an Order: an Offer (itemOffered), an OrderItem (orderedItem) or a bare Product.
function line(x) {
  const p = x.itemOffered || x.orderedItem || x
  return {
    product_id: pid(p),
    quantity: num(x.orderQuantity ?? x.eligibleQuantity?.value) ?? 1,
    price: num(x.price ?? first(p.offers)?.price),
  }
}

// Purchase event fields for every JSON-LD Order on the page (a thank-you page).
export function orders(doc = document) {
  const out = []
  for (const n of nodes(doc)) {
    if (!is(n, 'Order') || n.orderNumber == null) continue
    const total = n.totalPaymentDue || {}
    const lines = [].concat(n.acceptedOffer || [], n.orderedItem || [])
    out.push({
      order_id: String(n.orderNumber),
      items: lines.map(line).filter(l => l.product_id),
      revenue: num(total.value ?? total.price ?? n.price),
      currency: n.priceCurrency ?? total.currency ?? total.priceCurrency ?? first(lines)?.priceCurrency,
    })
  }
  return out
}
