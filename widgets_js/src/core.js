// The core (p.js): wires storage, tracking and transport, reads the shop's config, decides consent,
// replays calls queued by the inline stub, and loads the blocks and campaigns chunks when needed.
import { loadConfig } from './config.js'
import { inHoldout, unit } from './hash.js'
import { layout, reserve } from './layout.js'
import { loader } from './loader.js'
import { storage } from './storage.js'
import { tracking } from './tracking.js'
import { transport } from './transport.js'

const tagOf = s => (s?.dataset?.siteKey ? s : document.querySelector('script[data-site-key]'))
const ready = f => (document.readyState == 'loading' ? document.addEventListener('DOMContentLoaded', f) : f())
const hosts = () => [...document.querySelectorAll('[data-pz-widget]')]

export function start(tag = tagOf(document.currentScript)) {
  if (window.pz?._m || !tag) return window.pz?._m // loaded twice, or no tag: do nothing
  const queued = window.pz?.q || []
  const m = { key: tag.dataset.siteKey, base: new URL('.', tag.src || location.href).href, cfg: null, pending: [] }
  const api = {}
  const pz = (cmd, ...args) => {
    try {
      api[cmd]?.(...args)
    } catch (e) {
      console.warn('pz', cmd, e) // a store's bad call must not break the store
    }
  }
  pz._m = m
  window.pz = pz
  // Listeners act only for the current instance (matters when tests or a store restart the snippet).
  m.layout = layout // shared with the blocks chunk
  m.unit = unit // and with the campaigns chunk (A/B variants)
  m.reserve = reserve
  m.on = (target, type, fn, opt) => target.addEventListener(type, e => window.pz?._m == m && fn(e), opt)

  m.st = storage()
  loader(m)
  m.tx = transport(m)
  m.flush = () => m.tx.flush()
  // allowed: true = store and send; undefined = keep in memory and wait; false = drop.
  m.send = e => (m.allowed ? m.tx.add(e) : m.allowed === undefined && m.pending.push(e) > 200 && m.pending.shift())
  m.choice = m.st.get('consent') ? true : undefined

  function decide() {
    const c = m.cfg?.consent
    const n = navigator
    const optOut = ((c?.honor_gpc ?? true) && n.globalPrivacyControl) || ((c?.honor_dnt ?? true) && n.doNotTrack == '1')
    // An explicit pz('consent', …) wins; else the shop's rule; unknown until the config says.
    const v = m.choice ?? (c && !c.required ? !optOut : undefined)
    m.allowed = v
    m.st.allow(v === true)
    if (v === false) {
      m.pending = []
      m.st.wipe()
    }
    if (v) {
      for (const e of m.pending.splice(0)) m.tx.add(e)
      m.tx.schedule(1000) // also resends what earlier pages left in the queue
      campaigns()
    }
  }

  function campaigns() {
    const cfg = m.cfg
    // Campaigns need storage for the attention budget, and hold-out visitors see none.
    if (!cfg?.campaigns?.length || !m.allowed || inHoldout(cfg.holdout, m.vid)) return
    const href = location.href
    const could = c => !c.targeting?.url_contains?.length || c.targeting.url_contains.some(s => href.includes(s))
    if (cfg.campaigns.some(could)) m.need('campaigns').then(c => c.start())
  }

  // Reserve each placeholder's room (before the chunk, the config, or even the rest of the page
  // arrive: the earlier, the less likely the shopper saw it empty) and have the chunk watch it.
  const kept = new WeakSet()
  function blocks(all) {
    const list = hosts().filter(h => !h.shadowRoot && (all || !kept.has(h)))
    for (const h of list) {
      kept.add(h)
      reserve(h, layout(h, m.cfg?.widgets?.[h.dataset.pzWidget]).height)
    }
    if (list.length || (all && hosts().length)) m.need('blocks').then(b => b.scan())
  }

  m.refresh = () => {
    m.scan()
    blocks(1)
    m.mods.blocks?.refresh()
  }

  Object.assign(api, {
    track: (type, props) => m.track(type, props),
    identify: id => m.identify(id),
    consent(v) {
      m.choice = !!v
      if (v) m.st.set('consent', 1)
      else m.st.del('consent')
      decide()
    },
    refresh: m.refresh,
  })

  decide()
  tracking(m)
  for (const a of queued) pz(...a)
  m.nav() // the first page_view
  m.onNav.push(() => setTimeout(m.refresh, 100), campaigns) // single-page apps render after pushState
  blocks(1)
  if (document.readyState == 'loading') {
    // p.js ran before the page was parsed: reserve placeholders as the parser adds them.
    const watch = new MutationObserver(() => blocks())
    watch.observe(document, { childList: true, subtree: true })
    document.addEventListener('DOMContentLoaded', () => {
      watch.disconnect()
      blocks(1) // widths may have changed since (a scrollbar appeared)
    })
  }
  ready(m.scan)
  m.on(document, 'visibilitychange', () => document.visibilityState == 'hidden' && m.tx.beacon())
  m.on(window, 'pagehide', m.tx.beacon)
  m.on(window, 'online', m.tx.online)
  m.ready = loadConfig(m).then(cfg => {
    m.cfg = cfg || {}
    decide()
    blocks(1)
    return m.cfg
  })
  return m
}
