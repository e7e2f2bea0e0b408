// Exit intent. Desktop: the pointer leaves through the top of the window (towards tabs, the URL
// bar, the close button). Mobile has no pointer, so: a fast scroll up, a back navigation inside a
// single-page app (popstate), or 30 s without any activity.
const FAST_UP = 150 // px ...
const WITHIN = 300 // ... in this many ms
const IDLE = 30000

export function exitIntent(m, mobile, fire) {
  if (!mobile) {
    m.on(document, 'mouseout', e => !e.relatedTarget && e.clientY <= 0 && fire())
    return
  }
  let y = scrollY
  let from = null // where and when the current upward run began
  let idle = 0
  const awake = () => {
    clearTimeout(idle)
    idle = setTimeout(fire, IDLE)
  }
  m.on(window, 'scroll', () => {
    const now = Date.now()
    if (scrollY >= y) from = null
    else {
      if (!from || now - from.t > WITHIN) from = { y, t: now }
      if (from.y - scrollY >= FAST_UP && now - from.t <= WITHIN) {
        from = null
        fire()
      }
    }
    y = scrollY
    awake()
  }, { passive: true })
  m.on(window, 'popstate', fire)
  for (const type of ['touchstart', 'keydown', 'pointerdown']) m.on(document, type, awake, { passive: true })
  awake()
}
