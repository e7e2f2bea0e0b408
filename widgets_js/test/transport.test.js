import { describe, expect, test, vi } from 'vitest'
import { events, json, setup, stored, types } from './helpers.js'

const search = n => {
  for (let i = 0; i < n; i++) window.pz('track', 'search', { query: 'q' + i })
}
const queued = () => (stored('q') || []).map(x => x.e.type + (x.e.query ? ':' + x.e.query : ''))

describe('batching', () => {
  test('events go out together about a second after the first', async () => {
    const { sent } = await setup()
    search(2)
    await vi.advanceTimersByTimeAsync(999)
    expect(sent).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toHaveLength(1)
    expect(types(sent)).toEqual(['page_view', 'search', 'search'])
  })

  test('20 waiting events are sent at once', async () => {
    const { sent } = await setup()
    search(19)
    await vi.advanceTimersByTimeAsync(0)
    expect(sent).toHaveLength(1)
    expect(sent[0].events).toHaveLength(20)
  })

  test('a request carries at most 100 events', async () => {
    const { sent } = await setup()
    // The stored queue as earlier pages (or a long offline spell) left it.
    const e = i => ({ e: { event_id: 'id' + i, type: 'search', visitor_id: 'v', query: 'q' } })
    localStorage.setItem('pz_q', JSON.stringify(Array.from({ length: 150 }, (_, i) => e(i))))
    await window.pz._m.flush()
    expect(sent.map(p => p.events.length)).toEqual([100, 50])
    expect(stored('q')).toEqual([])
  })

  test('the body is text/plain JSON with the site key, sent with keepalive', async () => {
    const { fetch } = await setup()
    await vi.advanceTimersByTimeAsync(1000)
    const [url, opts] = fetch.mock.calls.find(c => c[0].endsWith('/collect'))
    expect(url).toBe('https://pz.test/api/v1/collect')
    expect(opts).toEqual({ method: 'POST', body: expect.any(String), keepalive: true })
    expect(opts.headers).toBeUndefined() // a string body is text/plain: no CORS preflight
    expect(Object.keys(JSON.parse(opts.body))).toEqual(['site_key', 'events'])
  })

  test('on page hide the queue goes out with sendBeacon, once', async () => {
    const { sent, beacons } = await setup()
    search(1)
    window.dispatchEvent(new Event('pagehide'))
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
    delete document.visibilityState
    expect(beacons).toHaveLength(1)
    expect(beacons[0].site_key).toBe('pk_test')
    expect(beacons[0].events.map(e => e.type)).toEqual(['page_view', 'search'])
    expect(navigator.sendBeacon.mock.calls[0][0]).toBe('https://pz.test/api/v1/collect')
    // Still stored until a 2xx says so, but not sent again right away.
    expect(queued()).toEqual(['page_view', 'search:q0'])
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent).toHaveLength(0)
  })
})

describe('the stored retry queue', () => {
  test('every event waits in localStorage until a 2xx answer', async () => {
    const { sent } = await setup()
    search(1)
    expect(queued()).toEqual(['page_view', 'search:q0'])
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent).toHaveLength(1)
    expect(queued()).toEqual([])
  })

  test('a network error keeps the events and retries with backoff', async () => {
    let down = true
    const { sent } = await setup({ collect: () => (down ? Promise.reject(new TypeError('offline')) : json({})) })
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent).toHaveLength(1)
    expect(queued()).toEqual(['page_view'])
    await vi.advanceTimersByTimeAsync(999) // first retry after 1 s
    expect(sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1999) // then 2 s
    expect(sent).toHaveLength(2)
    down = false
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toHaveLength(3)
    expect(sent[2].events[0].event_id).toBe(sent[0].events[0].event_id) // the same event, safe to resend
    expect(queued()).toEqual([])
  })

  test('a 5xx is retried too', async () => {
    let status = 503
    const { sent } = await setup({ collect: () => json({}, status) })
    await vi.advanceTimersByTimeAsync(1000)
    status = 200
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent).toHaveLength(2)
    expect(queued()).toEqual([])
  })

  test('a 400 drops the batch for good', async () => {
    const { sent } = await setup({ collect: () => json({ detail: 'bad' }, 400) })
    await vi.advanceTimersByTimeAsync(1000)
    expect(queued()).toEqual([])
    await vi.advanceTimersByTimeAsync(120000)
    expect(sent).toHaveLength(1)
  })

  test('a 429 is retried after Retry-After seconds', async () => {
    let limited = true
    const { sent } = await setup({ collect: () => (limited ? json({}, 429, { 'Retry-After': '30' }) : json({})) })
    await vi.advanceTimersByTimeAsync(1000)
    limited = false
    search(1) // new events wait for the rate limit too
    await vi.advanceTimersByTimeAsync(29000)
    expect(sent).toHaveLength(1)
    expect(queued()).toEqual(['page_view', 'search:q0'])
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent).toHaveLength(2)
    expect(types(sent.slice(1))).toEqual(['page_view', 'search'])
  })

  test('the next page sends what an earlier page left behind', async () => {
    const left = { e: { event_id: 'e-old', type: 'add_to_cart', visitor_id: 'v-1', product_id: 'A' } }
    const { sent } = await setup({ before: () => localStorage.setItem('pz_q', JSON.stringify([left])) })
    await vi.advanceTimersByTimeAsync(1000)
    expect(events(sent).map(e => e.event_id)[0]).toBe('e-old')
    expect(queued()).toEqual([])
  })

  test('events another tab is sending right now are left to it', async () => {
    const busy = { e: { event_id: 'e-tab', type: 'search', visitor_id: 'v', query: 'x' }, f: Date.parse('2025-03-01T10:00:00Z') }
    const { sent } = await setup({ before: () => localStorage.setItem('pz_q', JSON.stringify([busy])) })
    await vi.advanceTimersByTimeAsync(1000)
    expect(events(sent).map(e => e.event_id)).not.toContain('e-tab')
    await vi.advanceTimersByTimeAsync(15000) // the other tab never confirmed: resend
    expect(events(sent).map(e => e.event_id)).toContain('e-tab')
  })

  test('the queue keeps at most the newest 200 events', async () => {
    const { m } = await setup({ collect: () => Promise.reject(new TypeError('offline')) })
    for (let i = 0; i < 250; i++) m.tx.add({ event_id: 'e' + i, type: 'search', query: 'q' })
    const q = stored('q')
    expect(q).toHaveLength(200)
    expect(q.at(-1).e.event_id).toBe('e249')
  })

  test('coming back online sends at once, whatever the backoff', async () => {
    let down = true
    const { sent } = await setup({ collect: () => (down ? Promise.reject(new TypeError('offline')) : json({})) })
    for (let i = 0; i < 6; i++) await vi.advanceTimersByTimeAsync(2 ** i * 1000) // backoff now at 64 s
    const tries = sent.length
    down = false
    window.dispatchEvent(new Event('online'))
    await vi.advanceTimersByTimeAsync(0)
    expect(sent).toHaveLength(tries + 1)
    expect(queued()).toEqual([])
  })
})
