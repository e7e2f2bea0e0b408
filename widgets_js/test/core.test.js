import * as esbuild from 'esbuild'
import { describe, expect, test, vi } from 'vitest'
import { start } from '../src/core.js'
import { BASE, CONFIG, events, setup, stored, types } from './helpers.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('the loader', () => {
  test('it replays calls queued by the inline stub, in order', async () => {
    const { sent } = await setup({
      before() {
        // What a merchant pastes before the tag.
        window.pz = window.pz || function () { (window.pz.q = window.pz.q || []).push(arguments) }
        window.pz('identify', 'cust-7')
        window.pz('track', 'search', { query: 'candles' })
      },
    })
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['identify', 'search', 'page_view'])
    const [identify, search] = events(sent)
    expect(identify).toEqual({
      event_id: expect.stringMatching(UUID),
      type: 'identify',
      visitor_id: expect.stringMatching(UUID),
      session_id: expect.stringMatching(UUID),
      customer_id: 'cust-7',
      ts: Date.parse('2025-03-01T10:00:00Z'),
      url: 'https://shop.test/demo/',
      referrer: '',
    })
    expect(search.query).toBe('candles')
    expect(search.customer_id).toBe('cust-7')
    expect(sent[0].site_key).toBe('pk_test')
  })

  test('the built bundles define window.pz and no other global', async () => {
    await setup({ tag: false })
    document.head.innerHTML = '<script data-site-key="pk_test" src="https://pz.test/p.js"></script>'
    const before = new Set(Object.keys(globalThis))
    const build = await esbuild.build({
      entryPoints: ['src/p.js', 'src/pz-blocks.js', 'src/pz-campaigns.js'],
      bundle: true, minify: true, format: 'iife', target: 'es2020', write: false, outdir: 'out',
    })
    for (const file of build.outputFiles) (0, eval)(file.text)
    expect(Object.keys(globalThis).filter(k => !before.has(k))).toEqual(['pz'])
    expect(Object.keys(window.pz._m.mods).sort()).toEqual(['blocks', 'campaigns'])
  })

  test('it derives every URL from where p.js came from', async () => {
    const { calls, m } = await setup()
    document.body.innerHTML = '<div data-pz-widget="trending"></div>'
    delete m.mods.blocks
    m.refresh()
    expect(calls[0]).toBe(BASE + 'api/v1/config?site_key=pk_test')
    expect(document.querySelector('script[src]').src).toBe(BASE + 'p/pz-blocks.js')
  })

  test('it starts once, and finds its tag by data-site-key', async () => {
    await setup({ tag: false })
    document.head.innerHTML = '<script data-site-key="pk_found" src="https://cdn.test/x/p.js"></script>'
    const m = start()
    expect(m.key).toBe('pk_found')
    expect(m.base).toBe('https://cdn.test/x/')
    expect(start()).toBe(m)
  })

  test('a bad call does not throw into the store', async () => {
    await setup()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    expect(() => window.pz('track', 'add_to_cart', { properties: 5, get product_id() { throw new Error('x') } })).not.toThrow()
    expect(() => window.pz('nonsense')).not.toThrow()
    expect(warn).toHaveBeenCalled()
  })
})

describe('visitors and sessions', () => {
  test('it keeps the visitor id and a session in localStorage', async () => {
    const { m } = await setup()
    expect(stored('vid')).toBe(m.vid)
    expect(stored('s')).toMatchObject({ id: m.session().id, n: 1, r: false })
  })

  test('a new session starts after 30 idle minutes, and the visitor is then returning', async () => {
    const { m, sent } = await setup()
    const first = m.session().id
    await vi.advanceTimersByTimeAsync(29 * 60 * 1000)
    window.pz('track', 'search', { query: 'a' })
    expect(m.session().id).toBe(first)
    await vi.advanceTimersByTimeAsync(31 * 60 * 1000)
    window.pz('track', 'search', { query: 'b' })
    await vi.advanceTimersByTimeAsync(1000)
    const [, a, b] = events(sent)
    expect(a.session_id).toBe(first)
    expect(b.session_id).not.toBe(first)
    expect(b.visitor_id).toBe(a.visitor_id)
    expect(m.session()).toMatchObject({ r: true, n: 0 })
  })

  test('a visitor seen on an earlier visit is returning', async () => {
    localStorage.setItem('pz_vid', '"v-1"')
    await setup({ before: () => localStorage.setItem('pz_vid', '"v-1"') })
    expect(stored('s').r).toBe(true)
    expect(stored('vid')).toBe('v-1')
  })

  test('identify is remembered for later pages', async () => {
    await setup()
    window.pz('identify', 42)
    expect(stored('cid')).toBe('42')
  })
})

describe('ids', () => {
  test('without crypto.randomUUID (plain-http pages) ids are still UUID v4', async () => {
    const { uuid } = await import('../src/tracking.js')
    const real = crypto.randomUUID
    crypto.randomUUID = undefined
    try {
      expect(crypto.randomUUID).toBeUndefined()
      const ids = Array.from({ length: 50 }, uuid)
      expect(ids.every(id => UUID.test(id))).toBe(true)
      expect(new Set(ids).size).toBe(50)
    } finally {
      crypto.randomUUID = real
    }
  })

  test('a full localStorage falls back to memory instead of losing events', async () => {
    const { m } = await setup()
    const set = vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError')
    })
    window.pz('track', 'search', { query: 'x' })
    expect(m.st.get('q').map(x => x.e.type)).toEqual(['page_view', 'search'])
    set.mockRestore()
  })
})

describe('page views', () => {
  test('history navigation sends one page_view per URL, with the previous URL as referrer', async () => {
    const { sent } = await setup()
    history.pushState({}, '', '/demo/p/1')
    history.replaceState({}, '', '/demo/p/1') // same URL: nothing
    history.pushState({}, '', '/demo/p/1#reviews') // only the fragment: nothing
    history.pushState({}, '', '/demo/p/2')
    await vi.advanceTimersByTimeAsync(1000)
    expect(events(sent).map(e => [e.type, e.url, e.referrer])).toEqual([
      ['page_view', 'https://shop.test/demo/', ''],
      ['page_view', 'https://shop.test/demo/p/1', 'https://shop.test/demo/'],
      ['page_view', 'https://shop.test/demo/p/2', 'https://shop.test/demo/p/1'],
    ])
    expect(stored('s').n).toBe(3)
    history.replaceState({}, '', '/demo/')
  })

  test('unknown event types go out as custom, with their name', async () => {
    const { sent } = await setup()
    window.pz('track', 'newsletter_signup', { list: 'weekly', properties: { source: 'footer' } })
    await vi.advanceTimersByTimeAsync(1000)
    expect(events(sent)[1]).toMatchObject({ type: 'custom', properties: { name: 'newsletter_signup', list: 'weekly', source: 'footer' } })
  })
})

export { CONFIG }
