// Sending events: batched, persisted until the server says 2xx, retried with backoff.
//
// Every event goes first into the stored queue (pz_q, bounded), so a navigation right after a click,
// a crash or a period offline loses nothing: the next page sends it. Events carry event_id and the
// server stores each once, so sending one twice is harmless; a short per-event lock (f) keeps tabs
// and overlapping flushes from sending the same event at the same time.
const MAX_QUEUE = 200
const PER_REQUEST = 100
const SOON = 20 // flush at once when this many wait
const WAIT = 1000 // otherwise after a second
const LOCK = 15000 // an event sent (or beaconed) this recently is not sent again yet

export function transport(m) {
  let timer = 0
  let busy = null
  let fails = 0
  let retryAt = 0
  const url = () => m.base + 'api/v1/collect'
  const body = list => JSON.stringify({ site_key: m.key, events: list.map(x => x.e) })
  const load = () => m.st.get('q') || []
  const save = q => m.st.set('q', q.slice(-MAX_QUEUE)) // oldest dropped
  const free = now => load().filter(x => !(x.f > now - LOCK))
  // Rewrite the stored queue (which other tabs share) for the events of `list`.
  const update = (list, fn) => {
    const ids = new Set(list.map(x => x.e.event_id))
    save(load().flatMap(x => (ids.has(x.e.event_id) ? fn(x) : [x])))
  }

  function schedule(ms) {
    if (timer) return
    timer = setTimeout(() => {
      timer = 0
      flush()
    }, Math.max(ms, retryAt - Date.now()))
  }

  // Send what is queued, PER_REQUEST events at a time; resolves when done or backing off.
  function flush() {
    if (m.allowed !== true) return Promise.resolve()
    if (busy) return busy
    busy = (async () => {
      // A few requests per call at most: if storage ever refused our writes we would loop forever.
      for (let n = 0; n < 5; n++) {
        const now = Date.now()
        if (now < retryAt) return schedule(0)
        const batch = free(now).slice(0, PER_REQUEST)
        if (!batch.length) {
          // Locked events (beaconed, or sent by another tab that may have died): check back later.
          if (load().length) schedule(LOCK)
          return
        }
        update(batch, x => [{ ...x, f: now }])
        const text = body(batch)
        let res
        try {
          // keepalive lets the request outlive the page, but only up to 64 KB in flight.
          res = await fetch(url(), { method: 'POST', body: text, keepalive: text.length < 6e4 })
        } catch {
          res = null // offline, blocked, DNS: try again later
        }
        if (res && (res.ok || (res.status < 500 && res.status != 429))) {
          update(batch, () => []) // stored, or refused for good (other 4xx): never resend
          fails = 0
          continue
        }
        update(batch, x => [{ ...x, f: 0 }])
        const after = +res?.headers?.get('Retry-After')
        retryAt = Date.now() + (after > 0 ? after * 1000 : Math.min(60000, 1000 * 2 ** fails++))
      }
      schedule(0)
    })().finally(() => (busy = null))
    return busy
  }

  // The page is going away: hand what is left to the browser. The events stay queued (we never learn
  // whether a beacon arrived); the lock stops an immediate resend, a later page resends at worst.
  function beacon() {
    if (!m.allowed) return
    const now = Date.now()
    const list = free(now)
    for (let i = 0; i < list.length; i += PER_REQUEST) {
      const part = list.slice(i, i + PER_REQUEST)
      if (navigator.sendBeacon?.(url(), body(part))) update(part, x => [{ ...x, f: now }])
    }
  }

  function add(e) {
    const q = load()
    q.push({ e })
    save(q)
    if (free(Date.now()).length >= SOON) flush()
    else schedule(WAIT)
  }

  // Back online: the backoff was for a network that is there again.
  function online() {
    retryAt = fails = 0
    return flush()
  }

  return { add, flush, beacon, schedule, online }
}
