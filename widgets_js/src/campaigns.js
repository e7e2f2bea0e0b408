// Pop-ups and exit-intent overlays (chunk pz-campaigns). Targeting is evaluated in the page; one
// attention budget is shared by all campaigns: at most budget.per_session shown per session and
// budget.per_day per rolling day, the highest priority first, one at a time, and a campaign the
// shopper closed or clicked is never shown to them again.
import { openDialog } from './dialog.js'
import { exitIntent } from './exit.js'
import { matches } from './targeting.js'

const DAY = 864e5

export const triggerOf = c => c.trigger?.type || (c.kind == 'exit_intent' ? 'exit' : 'load')

export function campaigns(m) {
  let started = false
  let open = false
  let scroll = 0 // deepest scroll on this page, in percent
  const list = () => m.cfg?.campaigns || [] // sorted by priority, highest first, by the server
  const mobile = () => matchMedia('(pointer:coarse)').matches || innerWidth < 768
  const depth = () => {
    const room = document.documentElement.scrollHeight - innerHeight
    return room > 0 ? Math.min(100, (100 * scrollY) / room) : 100
  }
  // Stored: d = when campaigns were shown (last day), x = ids closed or clicked.
  const memory = () => m.st.get('b') || { d: [], x: [] }
  const remember = f => {
    const b = memory()
    f(b)
    m.st.set('b', b)
  }

  function allowed(c) {
    const cap = m.cfg.budget || {}
    const since = Date.now() - DAY
    const b = memory()
    return !b.x.includes(c.id) && m.session(true).c < (cap.per_session ?? 1) && b.d.filter(t => t > since).length < (cap.per_day ?? 2)
  }

  function context() {
    const s = m.session(true)
    return {
      url: location.href,
      device: mobile() ? 'mobile' : 'desktop',
      returning: s.r,
      views: s.n,
      seconds: (Date.now() - m.t0) / 1000,
      scroll,
      cart: m.cart(),
      viewed: s.v,
      known: !!m.cid,
    }
  }

  // Show the first campaign (highest priority) whose trigger has fired and that targets this shopper.
  // exit: an exit-intent moment is happening now.
  function pick(exit) {
    if (open || !m.allowed) return
    const x = context()
    for (const c of list()) {
      const t = c.trigger || {}
      const type = triggerOf(c)
      const fired =
        type == 'exit' ? exit : type == 'delay' ? x.seconds >= (t.delay_seconds || 0) : type == 'scroll' ? x.scroll >= (t.scroll_percent || 0) : true
      if (fired && allowed(c) && matches(c.targeting, x)) return show(c)
    }
  }

  function show(c) {
    open = true
    // A/B: a visitor always gets the same variant (its key, and its content unless it is the
    // original), by the bucket the server computes too (hash.js). The key goes into properties.
    const h = m.unit(m.vid + ':' + c.id)
    c = { ...c, ...c.variants?.find(v => h < v.upto) }
    const ev = { campaign_id: c.id, variant: c.key }
    m.track('campaign_impression', ev)
    const s = m.session()
    s.c++
    m.st.set('s', s)
    remember(b => (b.d = [...b.d.filter(t => t > Date.now() - DAY), Date.now()]))
    const widget = openDialog(m, c, what => {
      open = false
      m.track(what == 'click' ? 'campaign_click' : 'campaign_close', ev)
      remember(b => b.x.push(c.id))
      if (what == 'click') m.flush() // the CTA navigates away
    })
    if (widget) m.need('blocks').then(b => b.show(widget))
  }

  return {
    start() {
      if (started) return
      started = true
      scroll = depth()
      m.on(window, 'scroll', () => {
        scroll = Math.max(scroll, depth())
        pick()
      }, { passive: true })
      if (list().some(c => triggerOf(c) == 'exit')) exitIntent(m, mobile(), () => pick(true))
      m.onNav.push(() => (scroll = depth()))
      // Delays, time on page: look again every second while the page is in front.
      setInterval(() => document.visibilityState == 'visible' && pick(), 1000)
      pick()
    },
    pick,
  }
}
