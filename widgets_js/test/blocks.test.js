import { describe, expect, test, vi } from 'vitest'
import { money } from '../src/blocks.js'
import { layout, reserve } from '../src/layout.js'
import { approach, events, intersect, setup } from './helpers.js'

const ITEMS = [
  { product_id: '85123A', title: 'Heart T-light holder', url: '/demo/p/85123A', image_url: 'https://img.test/85123A.jpg', price: 2.55, currency: 'GBP', score: 0.9, reason: 'Popular right now' },
  { product_id: '22423', title: 'Regency cakestand', url: 'https://shop.test/demo/p/22423', image_url: '/img/22423.jpg', price: 12.75, currency: 'GBP', score: 0.8, reason: 'Because you viewed Heart T-light holder' },
]
const ANSWER = { rec_id: 'rec-1', widget: 'for_you', model_version: 4, holdout: false, items: ITEMS }

// A page with one placeholder 800px wide; the block is filled once it comes near the viewport.
async function page(attrs = 'data-pz-widget="for_you"', options = {}) {
  const s = await setup({
    recs: ANSWER,
    ...options,
    before() {
      document.body.innerHTML = `<div ${attrs}></div>`
      const host = document.querySelector('[data-pz-widget]')
      Object.defineProperty(host, 'clientWidth', { value: 800 })
      options.before?.()
    },
  })
  const host = document.querySelector('[data-pz-widget]')
  return { ...s, host, fill: async () => (approach(host), await vi.advanceTimersByTimeAsync(1)) }
}
const recCalls = calls => calls.filter(u => u.includes('/recommendations'))

describe('space is reserved up front', () => {
  test('the placeholder gets the height of the finished block before anything loads', async () => {
    const { host } = await page()
    // 800px: 4 columns of 188px; 8 items = 2 rows of 280px cards (180 image + 100 text), a 16px gap,
    // a 36px title.
    expect(host.style.minHeight).toBe('612px')
    expect(layout(host, { limit: 8 })).toMatchObject({ cols: 4, card: 188, carousel: false, height: 612 })
  })

  test('room the store already reserved in its CSS is left alone while in view', () => {
    const host = document.createElement('div')
    Object.defineProperty(host, 'offsetHeight', { value: 700 })
    reserve(host, 612)
    expect(host.style.minHeight).toBe('')
    reserve(host, 800) // the block needs more: grow
    expect(host.style.minHeight).toBe('800px')
    host.getBoundingClientRect = () => ({ top: 2000 })
    reserve(host, 612) // below the fold nothing visible moves: fit exactly
    expect(host.style.minHeight).toBe('612px')
  })

  test('a carousel keeps one row, a narrow page fewer columns, --pz-columns caps them', () => {
    const host = document.createElement('div')
    Object.defineProperty(host, 'clientWidth', { value: 360 })
    host.dataset.pzLayout = 'carousel'
    host.dataset.pzTitle = ''
    expect(layout(host)).toMatchObject({ cols: 2, carousel: true, card: (360 - 32) / 2.3, height: 280 + 16 })
    const wide = document.createElement('div')
    Object.defineProperty(wide, 'clientWidth', { value: 1200 })
    wide.style.setProperty('--pz-columns', '3')
    document.body.append(wide)
    expect(layout(wide)).toMatchObject({ cols: 3, height: 36 + 3 * 296 - 16 }) // 8 items in 3 rows
    const phone = document.createElement('div')
    Object.defineProperty(phone, 'clientWidth', { value: 335 })
    expect(layout(phone)).toMatchObject({ cols: 1 })
  })
})

describe('filling a block', () => {
  test('nothing is fetched until the block is near the viewport', async () => {
    const { calls, fill } = await page()
    await vi.advanceTimersByTimeAsync(5000)
    expect(recCalls(calls)).toEqual([])
    await fill()
    expect(recCalls(calls)).toHaveLength(1)
  })

  test("this page's events are sent before recommendations are asked for", async () => {
    const { calls, fill, m } = await page('data-pz-widget="for_you" data-pz-limit="4" data-pz-category="Home" data-pz-min-price="1" data-pz-max-price="20"')
    window.pz('identify', 'c-1')
    await fill()
    const collect = calls.indexOf('https://pz.test/api/v1/collect')
    const recs = calls.findIndex(u => u.includes('/recommendations'))
    expect(collect).toBeGreaterThan(-1)
    expect(collect).toBeLessThan(recs)
    const url = new URL(calls[recs])
    expect(url.origin + url.pathname).toBe('https://pz.test/api/v1/recommendations')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      site_key: 'pk_test',
      widget: 'for_you',
      limit: '4',
      visitor_id: m.vid,
      session_id: m.session().id,
      customer_id: 'c-1',
      category: 'Home',
      min_price: '1',
      max_price: '20',
    })
  })

  test('the cart block sends the cart, similar its product', async () => {
    const { calls, fill } = await page('data-pz-widget="cart"')
    window.pz('track', 'add_to_cart', { product_id: 'A', quantity: 1, price: 2 })
    window.pz('track', 'add_to_cart', { product_id: 'B,2', quantity: 1, price: 3 })
    await fill()
    expect(new URL(recCalls(calls)[0]).searchParams.get('cart')).toBe('A,B,2')
    const s = await page('data-pz-widget="similar" data-pz-product="85123A"')
    await s.fill()
    const q = new URL(recCalls(s.calls)[0]).searchParams
    expect([q.get('widget'), q.get('product_id'), q.get('limit')]).toEqual(['similar', '85123A', '4'])
  })

  test('cards render in a shadow root, styled by an adopted sheet', async () => {
    const { host, fill } = await page()
    await fill()
    const root = host.shadowRoot
    expect(root.mode).toBe('open')
    expect(root.adoptedStyleSheets).toHaveLength(1)
    expect(root.querySelectorAll('style, [style*=":"]:not(.g)')).toHaveLength(0)
    expect(root.querySelector('h2').textContent).toBe('Recommended for you')
    const cards = [...root.querySelectorAll('a.k')]
    expect(cards.map(a => a.getAttribute('href'))).toEqual(['https://shop.test/demo/p/85123A', 'https://shop.test/demo/p/22423'])
    expect(cards.map(a => [...a.children].map(c => c.textContent))).toEqual([
      ['', 'Heart T-light holder', '£2.55', 'Popular right now'],
      ['', 'Regency cakestand', '£12.75', 'Because you viewed Heart T-light holder'],
    ])
    const img = cards[1].querySelector('img')
    expect([img.getAttribute('src'), img.getAttribute('loading'), img.getAttribute('width'), img.getAttribute('height'), img.alt]).toEqual(['https://shop.test/img/22423.jpg', 'lazy', '188', '180', ''])
    expect(root.querySelector('.g').style.getPropertyValue('--c')).toBe('4')
    expect(host.dataset.pzState).toBe('ready')
  })

  test('a hostile title shows as text and a javascript: URL is never linked', async () => {
    const evil = { ...ANSWER, items: [{ ...ITEMS[0], title: '<img src=x onerror=alert(1)>', reason: '<b>bold</b>', url: 'javascript:alert(1)', image_url: ' javascript:alert(2)' }] }
    const { host, fill } = await page('data-pz-widget="for_you" data-pz-title="<i>Picks</i>"', { recs: evil })
    await fill()
    const root = host.shadowRoot
    expect(root.querySelector('.n').textContent).toBe('<img src=x onerror=alert(1)>')
    expect(root.querySelector('.r').textContent).toBe('<b>bold</b>')
    expect(root.querySelector('h2').textContent).toBe('<i>Picks</i>')
    expect(root.querySelectorAll('img')).toHaveLength(1) // the card's own, without a src
    expect(root.querySelector('img').hasAttribute('src')).toBe(false)
    expect(root.querySelector('a').hasAttribute('href')).toBe(false)
    expect(root.querySelectorAll('b, i')).toHaveLength(0)
  })

  test('prices are formatted for the shop locale and the item currency', () => {
    expect(money(2.55, 'GBP', 'en-GB')).toBe('£2.55')
    expect(money(1234.5, 'EUR', 'de-DE')).toBe('1.234,50\u00a0€')
    expect(money(1234.5, 'USD', 'en-US')).toBe('$1,234.50')
    expect(money(null, 'GBP', 'en-GB')).toBe('')
    expect(money(3, 'NOT A CODE', 'en-GB')).toBe('3')
  })

  test('data-pz-title="" shows no title; a carousel gets one row', async () => {
    const { host, fill } = await page('data-pz-widget="for_you" data-pz-title="" data-pz-layout="carousel"')
    await fill()
    expect(host.shadowRoot.querySelector('h2')).toBeNull()
    expect(host.shadowRoot.querySelector('.g').className).toBe('g c')
  })

  test('an empty answer keeps its room and says so', async () => {
    const { host, fill } = await page(undefined, { recs: { rec_id: 'r', widget: 'for_you', items: [] } })
    await fill()
    expect(host.shadowRoot.querySelector('.e').textContent).toBe('No recommendations yet.')
    expect(host.style.minHeight).toBe('612px')
    expect(host.dataset.pzState).toBe('empty')
  })

  test('an empty block the shopper never saw, below the fold, collapses', async () => {
    const { host, fill } = await page(undefined, {
      recs: { rec_id: 'r', widget: 'for_you', items: [] },
      before: () => (document.querySelector('div').getBoundingClientRect = () => ({ top: 5000, height: 0 })),
    })
    await fill()
    expect(host.style.display).toBe('none')
  })
})

describe('impressions and clicks', () => {
  test('rec_impression once, after half the block was visible for a second', async () => {
    const { host, fill, sent } = await page()
    await fill()
    intersect(host, 0.6)
    await vi.advanceTimersByTimeAsync(500)
    intersect(host, 0.2) // scrolled away too soon: no impression
    await vi.advanceTimersByTimeAsync(2000)
    expect(events(sent).filter(e => e.type == 'rec_impression')).toEqual([])
    intersect(host, 0.6)
    await vi.advanceTimersByTimeAsync(1000)
    intersect(host, 0.2)
    intersect(host, 0.9)
    await vi.advanceTimersByTimeAsync(3000)
    const shown = events(sent).filter(e => e.type == 'rec_impression')
    expect(shown).toHaveLength(1)
    expect(shown[0]).toMatchObject({ rec_id: 'rec-1', properties: { widget: 'for_you', product_ids: ['85123A', '22423'] } })
    expect(shown[0].product_id).toBeUndefined()
  })

  test('a card click sends rec_click at once, before the browser navigates', async () => {
    const { host, fill, sent } = await page()
    await fill()
    const before = sent.length
    host.shadowRoot.querySelectorAll('a.k')[1].dispatchEvent(new MouseEvent('click', { cancelable: true }))
    await vi.advanceTimersByTimeAsync(0)
    expect(sent.length).toBe(before + 1)
    expect(sent.at(-1).events.map(({ type, rec_id, product_id, properties }) => ({ type, rec_id, product_id, properties }))).toEqual([
      { type: 'rec_click', rec_id: 'rec-1', product_id: '22423', properties: { widget: 'for_you', position: 1 } },
    ])
  })

  test('pz("refresh") asks again and renders the new answer', async () => {
    const answers = [ANSWER, { ...ANSWER, rec_id: 'rec-2', items: [ITEMS[1]] }]
    const { host, fill, calls } = await page(undefined, { recs: () => answers[recCalls(calls).length - 1] })
    await fill()
    window.pz('refresh')
    await vi.advanceTimersByTimeAsync(1)
    expect(recCalls(calls)).toHaveLength(2)
    expect(host.shadowRoot.querySelectorAll('a.k')).toHaveLength(1)
  })

  test('a single-page-app navigation renders the blocks again', async () => {
    const { fill, calls } = await page()
    await fill()
    history.pushState({}, '', '/demo/other')
    await vi.advanceTimersByTimeAsync(100)
    expect(recCalls(calls)).toHaveLength(2)
    history.replaceState({}, '', '/demo/')
  })
})
