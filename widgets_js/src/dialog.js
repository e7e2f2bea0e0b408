// The pop-up: an accessible modal dialog in a shadow root. Focus moves in (to the close button),
// Tab stays inside, Esc / the close button / a click on the backdrop close it, and focus goes back
// to where it was. Every text goes in as text.
import { el, safeUrl, shadow } from './dom.js'

const CSS = `:host{all:initial}
.o{position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;justify-content:center;background:#0008;font-family:var(--pz-font,system-ui,sans-serif);color:var(--pz-text,#222)}
.d{position:relative;box-sizing:border-box;width:min(92vw,440px);max-height:90vh;overflow:auto;padding:24px;background:var(--pz-card-bg,#fff);border-radius:var(--pz-radius,8px);box-shadow:0 10px 40px #0005}
.x{position:absolute;top:8px;right:8px;width:36px;height:36px;border:0;border-radius:50%;background:none;color:inherit;font-size:24px;line-height:1;cursor:pointer}
h2{margin:0 32px 8px 0;font-size:22px}
p{margin:0 0 16px;line-height:1.4}
img{display:block;width:100%;height:auto;margin:0 0 16px;border-radius:var(--pz-radius,8px)}
.cp{display:flex;gap:8px;align-items:center;margin:0 0 16px}
code{flex:1;padding:8px;border:1px dashed;border-radius:4px;font-size:18px;text-align:center}
.a,button.c{display:inline-block;padding:10px 18px;border:0;border-radius:var(--pz-radius,8px);background:var(--pz-accent,#2563eb);color:#fff;font:inherit;text-decoration:none;cursor:pointer}
.w{margin:16px 0 0}
:focus-visible{outline:2px solid var(--pz-accent,#2563eb);outline-offset:2px}`

const FOCUSABLE = 'a[href],button,input,select,textarea,[tabindex]:not([tabindex="-1"])'

// Focusable elements in order, looking inside nested shadow roots (the embedded block).
function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE + ',[data-pz-widget]')].flatMap(e => (e.shadowRoot ? focusables(e.shadowRoot) : e.matches(FOCUSABLE) ? [e] : []))
}

function deepActive(root) {
  let a = root.activeElement
  while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement
  return a
}

// Opens the dialog for campaign content; on(what) is called with 'click' or 'close'. Returns the
// element holding an embedded block, if the campaign has one.
export function openDialog(m, c, on) {
  const content = c.content || {}
  const back = document.activeElement
  const host = el('div')
  host.dataset.pzCampaign = c.id
  const root = shadow(host, CSS)
  const overlay = el('div', 'o')
  const box = el('div', 'd')
  const id = 'pz-t' + c.id
  box.setAttribute('role', 'dialog')
  box.setAttribute('aria-modal', 'true')
  box.setAttribute('aria-labelledby', id)
  const close = el('button', 'x', '×')
  close.setAttribute('aria-label', 'Close')
  const title = el('h2', '', content.title)
  title.id = id
  box.append(close)
  const img = safeUrl(content.image_url)
  if (img) {
    const i = el('img')
    i.src = img
    i.alt = ''
    box.append(i)
  }
  box.append(title)
  if (content.text) box.append(el('p', '', content.text))
  if (content.coupon_code) {
    const row = el('div', 'cp')
    const copy = el('button', 'c', 'Copy')
    copy.addEventListener('click', () => navigator.clipboard?.writeText(content.coupon_code).then(() => (copy.textContent = 'Copied')))
    row.append(el('code', '', content.coupon_code), copy)
    box.append(row)
  }
  if (content.cta_text) {
    const cta = el('a', 'a', content.cta_text)
    const href = safeUrl(content.cta_url)
    if (href) cta.href = href
    else {
      cta.setAttribute('role', 'button') // no link: the CTA just closes
      cta.tabIndex = 0
    }
    cta.addEventListener('click', () => done('click'))
    box.append(cta)
  }
  let widget = null
  if (content.widget) {
    widget = el('div', 'w')
    Object.assign(widget.dataset, { pzWidget: content.widget, pzLimit: content.widget_limit || 4, pzLayout: 'carousel' })
    if (m.product) widget.dataset.pzProduct = m.product
    box.append(widget)
  }
  overlay.append(box)
  root.append(overlay)
  document.body.append(host)

  function done(what) {
    document.removeEventListener('keydown', keys, true)
    host.remove()
    back?.focus?.()
    on(what)
  }
  function keys(e) {
    if (!host.isConnected) return document.removeEventListener('keydown', keys, true) // the page removed it
    if (e.key == 'Escape') return done('close')
    if (e.key != 'Tab') return
    const list = focusables(root)
    const i = list.indexOf(deepActive(root))
    const next = e.shiftKey ? (i <= 0 ? list.length - 1 : i - 1) : (i + 1) % list.length
    e.preventDefault() // we move focus ourselves, so it can never leave the dialog
    list[next]?.focus()
  }
  close.addEventListener('click', () => done('close'))
  overlay.addEventListener('click', e => e.target == overlay && done('close'))
  document.addEventListener('keydown', keys, true)
  close.focus()
  return widget
}
