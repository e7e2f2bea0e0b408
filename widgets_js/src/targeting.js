// Whether a campaign's targeting matches the shopper right now. Every key is optional, and an
// absent key, null or an empty list means "no condition".
//
// x: {url, device, returning, views, seconds, scroll, cart: [{product_id, quantity, price}],
//     viewed: [{p: product_id, c: category}], known}
const parts = path => String(path).split(/\s*[>/]\s*/).filter(Boolean).map(s => s.toLowerCase())

// "Home > Candles > Tealights" is under "Home/Candles".
export function under(path, target) {
  const a = parts(path || '')
  return parts(target).every((p, i) => a[i] == p)
}

export function matches(t = {}, x) {
  const any = list => !list?.length
  const value = x.cart.reduce((sum, l) => sum + (l.price || 0) * l.quantity, 0)
  return (
    (any(t.url_contains) || t.url_contains.some(s => x.url.includes(s))) &&
    (any(t.devices) || t.devices.includes(x.device)) &&
    (t.visitor == 'new' ? !x.returning : t.visitor == 'returning' ? x.returning : true) &&
    x.views >= (t.min_page_views || 0) &&
    x.seconds >= (t.min_seconds_on_page || 0) &&
    x.scroll >= (t.min_scroll_percent || 0) &&
    (t.min_cart_value == null || value >= t.min_cart_value) &&
    (t.max_cart_value == null || value <= t.max_cart_value) &&
    (any(t.cart_contains) || t.cart_contains.some(id => x.cart.some(l => l.product_id == id))) &&
    (!t.viewed_category || x.viewed.some(v => v.c && under(v.c, t.viewed_category))) &&
    (t.customer == 'known' ? x.known : t.customer == 'anonymous' ? !x.known : true)
  )
}
