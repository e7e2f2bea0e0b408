import { describe, expect, test } from 'vitest'
import { inHoldout, unit } from '../src/hash.js'
import { matches, under } from '../src/targeting.js'

// A shopper on a desktop, second page of a returning visit, with one candle holder in the cart.
const X = {
  url: 'https://shop.test/demo/p/85123A',
  device: 'desktop',
  returning: true,
  views: 2,
  seconds: 12,
  scroll: 40,
  cart: [{ product_id: '85123A', quantity: 2, price: 2.55 }],
  viewed: [{ p: '85123A', c: 'Home > Candles > T-lights' }],
  known: false,
}
const ok = (t, x = {}) => matches(t, { ...X, ...x })

describe('targeting', () => {
  test('no targeting, absent keys, nulls and empty lists match everyone', () => {
    expect(ok(undefined)).toBe(true)
    expect(ok({})).toBe(true)
    expect(ok({ url_contains: [], devices: [], cart_contains: [], min_cart_value: null, max_cart_value: null, viewed_category: null, visitor: 'any', customer: 'any' })).toBe(true)
  })
  test('url_contains: any of the parts', () => {
    expect(ok({ url_contains: ['/cart', '/p/'] })).toBe(true)
    expect(ok({ url_contains: ['/checkout'] })).toBe(false)
  })
  test('devices', () => {
    expect(ok({ devices: ['desktop'] })).toBe(true)
    expect(ok({ devices: ['mobile'] })).toBe(false)
    expect(ok({ devices: ['mobile'] }, { device: 'mobile' })).toBe(true)
  })
  test('new or returning visitor', () => {
    expect(ok({ visitor: 'returning' })).toBe(true)
    expect(ok({ visitor: 'new' })).toBe(false)
    expect(ok({ visitor: 'new' }, { returning: false })).toBe(true)
  })
  test('page views this session, seconds on the page, scroll depth', () => {
    expect(ok({ min_page_views: 2 })).toBe(true)
    expect(ok({ min_page_views: 3 })).toBe(false)
    expect(ok({ min_seconds_on_page: 12 })).toBe(true)
    expect(ok({ min_seconds_on_page: 13 })).toBe(false)
    expect(ok({ min_scroll_percent: 50 })).toBe(false)
    expect(ok({ min_scroll_percent: 50 }, { scroll: 50 })).toBe(true)
  })
  test('cart value between min and max', () => {
    expect(ok({ min_cart_value: 5.1 })).toBe(true)
    expect(ok({ min_cart_value: 5.2 })).toBe(false)
    expect(ok({ max_cart_value: 5 })).toBe(false)
    expect(ok({ min_cart_value: 0, max_cart_value: 0 }, { cart: [] })).toBe(true)
  })
  test('cart contains any of the products', () => {
    expect(ok({ cart_contains: ['X', '85123A'] })).toBe(true)
    expect(ok({ cart_contains: ['X'] })).toBe(false)
  })
  test('viewed category: that category or a child, whatever the separator', () => {
    expect(ok({ viewed_category: 'Home/Candles' })).toBe(true)
    expect(ok({ viewed_category: 'home > candles > t-lights' })).toBe(true)
    expect(ok({ viewed_category: 'Home/Cand' })).toBe(false)
    expect(ok({ viewed_category: 'Garden' })).toBe(false)
    expect(ok({ viewed_category: 'Home' }, { viewed: [{ p: 'x' }] })).toBe(false)
    expect(under('Home > Candles', 'Home > Candles > T-lights')).toBe(false)
  })
  test('known (identified) or anonymous customer', () => {
    expect(ok({ customer: 'anonymous' })).toBe(true)
    expect(ok({ customer: 'known' })).toBe(false)
    expect(ok({ customer: 'known' }, { known: true })).toBe(true)
  })
  test('all conditions must hold', () => {
    expect(ok({ devices: ['desktop'], visitor: 'returning', cart_contains: ['85123A'], min_cart_value: 100 })).toBe(false)
  })
})

describe('hold-out hash', () => {
  test('unit gives the numbers personalize/lib/hashing.py unit_hash gives', () => {
    expect(unit('')).toBe(0.6689221884589642)
    expect(unit('3:v-1')).toBe(0.4897170134354383)
    expect(unit('3:café')).toBe(0.767544946167618) // UTF-8 bytes, not UTF-16 units
  })
  test('ids differing only in their last characters spread evenly', () => {
    let under = 0
    for (let i = 0; i < 150; i++) under += unit('9:v' + i) < 0.3
    expect(under).toBe(52) // as the server's unit_hash; raw FNV-1a put 1 of these 150 under 0.3
  })
  test('a visitor is in the hold-out iff unit(seed:vid) < share', () => {
    expect(inHoldout({ share: 0.49, seed: '3' }, 'v-1')).toBe(true)
    expect(inHoldout({ share: 0.48, seed: '3' }, 'v-1')).toBe(false)
    expect(inHoldout({ share: 0, seed: '3' }, 'v-1')).toBe(false)
    expect(inHoldout(undefined, 'v-1')).toBe(false)
  })
})
