// DOM helpers for the chunks. Merchant and product text only ever goes in as textContent, URLs only
// as checked http(s) links, styles only through constructable sheets (works under a strict CSP).
export function el(tag, cls, text) {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text != null) e.textContent = text
  return e
}

// An absolute http(s) URL, or '' for anything else (javascript:, data:, garbage).
export function safeUrl(u) {
  if (!u) return ''
  try {
    const url = new URL(u, location.href)
    return /^https?:$/.test(url.protocol) ? url.href : ''
  } catch {
    return ''
  }
}

const sheets = new Map()
// An open shadow root on host styled by `css`: the store's CSS cannot reach inside, ours cannot leak.
export function shadow(host, css) {
  const root = host.shadowRoot || host.attachShadow({ mode: 'open' })
  let sheet = sheets.get(css)
  if (!sheet) {
    sheet = new CSSStyleSheet()
    sheet.replaceSync(css)
    sheets.set(css, sheet)
  }
  root.adoptedStyleSheets = [sheet]
  return root
}
