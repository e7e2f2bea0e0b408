// Lazy chunks: BASE/p/pz-NAME.js is injected only when the page needs it, and registers itself
// with m.def(NAME, factory) through the one global, window.pz.
export function loader(m) {
  const waiting = {}
  m.mods = {}
  m.def = (name, factory) => {
    m.mods[name] = factory(m)
    waiting[name]?.(m.mods[name])
  }
  m.need = name =>
    m.mods[name]
      ? Promise.resolve(m.mods[name])
      : new Promise(resolve => {
          if (!waiting[name]) {
            const s = document.createElement('script')
            s.src = m.base + 'p/pz-' + name + '.js'
            s.async = true
            document.head.append(s)
          }
          const prev = waiting[name]
          waiting[name] = mod => (prev?.(mod), resolve(mod))
        })
}
