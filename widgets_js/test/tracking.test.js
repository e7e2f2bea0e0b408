import { describe, expect, test, vi } from 'vitest'
import { orders, products } from '../src/product.js'
import { events, setup, stored } from './helpers.js'

const ld = obj => `<script type="application/ld+json">${JSON.stringify(obj)}</script>`
const PRODUCT = {
  '@context': 'https://schema.org',
  '@type': 'Product',
  sku: '85123A',
  name: 'Heart T-light holder',
  category: 'Home > Candles',
  offers: { '@type': 'Offer', price: '2.55', priceCurrency: 'GBP' },
}

// A page that has loaded: the snippet starts, then the test's DOM is scanned as on DOMContentLoaded.
async function page(html) {
  const s = await setup()
  document.body.innerHTML = html
  s.m.scan()
  await vi.advanceTimersByTimeAsync(1000)
  return s
}

describe('product views', () => {
  test('a JSON-LD Product sends a product_view with its sku, price and category', async () => {
    const { sent } = await page(ld(PRODUCT))
    const view = events(sent).find(e => e.type == 'product_view')
    expect(view).toEqual({
      event_id: expect.any(String),
      type: 'product_view',
      visitor_id: expect.any(String),
      session_id: expect.any(String),
      ts: expect.any(Number),
      url: 'https://shop.test/demo/',
      referrer: '',
      product_id: '85123A',
      price: 2.55,
      currency: 'GBP',
      properties: { category: 'Home > Candles' },
    })
    expect(stored('s').v).toEqual([{ p: '85123A', c: 'Home > Candles' }])
  })

  test('a Product inside @graph, with productID and a list of offers, is found', () => {
    document.body.innerHTML = ld({ '@context': 'https://schema.org', '@graph': [{ '@type': 'WebPage' }, { '@type': ['Product'], productID: 'X1', offers: [{ price: 10, priceCurrency: 'EUR' }] }] })
    expect(products()).toEqual([{ product_id: 'X1', price: 10, currency: 'EUR', category: undefined }])
  })

  test('a broken JSON-LD block is skipped', () => {
    document.body.innerHTML = '<script type="application/ld+json">{oops</script>' + ld(PRODUCT)
    expect(products().map(p => p.product_id)).toEqual(['85123A'])
  })

  test('data-pz-product-view sends a product_view', async () => {
    const { sent } = await page('<div data-pz-product-view="22423" data-pz-price="12.75" data-pz-category="Home/Cake stands"></div>')
    expect(events(sent).find(e => e.type == 'product_view')).toMatchObject({ product_id: '22423', price: 12.75, properties: { category: 'Home/Cake stands' } })
  })

  test('a product is viewed once per page, however often the page is scanned', async () => {
    const { sent, m } = await page(ld(PRODUCT))
    m.scan()
    await vi.advanceTimersByTimeAsync(1000)
    expect(events(sent).filter(e => e.type == 'product_view')).toHaveLength(1)
  })
})

describe('cart events', () => {
  test('a click on data-pz-add-to-cart sends add_to_cart and updates the cart model', async () => {
    const { sent } = await page('<button data-pz-add-to-cart="85123A" data-pz-quantity="2" data-pz-price="2.55"><span>Add</span></button>')
    document.querySelector('span').click()
    await vi.advanceTimersByTimeAsync(1000)
    expect(events(sent).at(-1)).toMatchObject({ type: 'add_to_cart', product_id: '85123A', quantity: 2, price: 2.55 })
    expect(stored('c')).toEqual([{ product_id: '85123A', quantity: 2, price: 2.55 }])
  })

  test('the cart model follows add, remove and purchase', async () => {
    const { m } = await setup()
    window.pz('track', 'add_to_cart', { product_id: 'A', quantity: 1, price: 5 })
    window.pz('track', 'add_to_cart', { product_id: 'A', quantity: 2, price: 5 })
    window.pz('track', 'add_to_cart', { product_id: 'B', price: '3.5' })
    expect(m.cart()).toEqual([{ product_id: 'A', quantity: 3, price: 5 }, { product_id: 'B', quantity: 1, price: 3.5 }])
    window.pz('track', 'remove_from_cart', { product_id: 'A', quantity: 1 })
    expect(m.cart()[0].quantity).toBe(2)
    document.body.innerHTML = '<button data-pz-remove-from-cart="B">x</button>'
    document.querySelector('button').click() // no quantity: the whole line
    expect(m.cart()).toEqual([{ product_id: 'A', quantity: 2, price: 5 }])
    window.pz('track', 'purchase', { order_id: 'o1', items: [{ product_id: 'A', quantity: 2, price: 5 }] })
    expect(m.cart()).toEqual([])
  })
})

describe('purchases', () => {
  test('an explicit purchase sends the order as given', async () => {
    const { sent } = await setup()
    window.pz('track', 'purchase', {
      order_id: 'demo-1',
      items: [{ product_id: '85123A', quantity: 2, price: 2.55 }, { product_id: 22423, quantity: '1', price: '12.75' }],
      revenue: 17.85,
      currency: 'GBP',
    })
    await vi.advanceTimersByTimeAsync(1000)
    const { event_id, visitor_id, session_id, ts, ...rest } = events(sent)[1]
    expect(rest).toEqual({
      type: 'purchase',
      url: 'https://shop.test/demo/',
      referrer: '',
      order_id: 'demo-1',
      items: [{ product_id: '85123A', quantity: 2, price: 2.55 }, { product_id: '22423', quantity: 1, price: 12.75 }],
      revenue: 17.85,
      currency: 'GBP',
    })
  })

  test('a JSON-LD Order on a thank-you page sends a purchase once', async () => {
    const order = {
      '@context': 'https://schema.org',
      '@type': 'Order',
      orderNumber: 'A-1001',
      priceCurrency: 'GBP',
      totalPaymentDue: { '@type': 'PriceSpecification', price: '7.65', priceCurrency: 'GBP' },
      acceptedOffer: [
        { '@type': 'Offer', itemOffered: { '@type': 'Product', sku: '85123A' }, price: '2.55', eligibleQuantity: { value: 3 } },
      ],
      orderedItem: [{ '@type': 'OrderItem', orderQuantity: 1, orderedItem: { '@type': 'Product', sku: 'X', offers: { price: 1 } } }],
    }
    const { sent, m } = await page(ld(order))
    m.scan()
    await vi.advanceTimersByTimeAsync(1000)
    const purchases = events(sent).filter(e => e.type == 'purchase')
    expect(purchases).toHaveLength(1)
    expect(purchases[0]).toMatchObject({
      order_id: 'A-1001',
      items: [{ product_id: '85123A', quantity: 3, price: 2.55 }, { product_id: 'X', quantity: 1, price: 1 }],
      revenue: 7.65,
      currency: 'GBP',
    })
    expect(events(sent).some(e => e.type == 'product_view')).toBe(false) // the order's products are not views
    expect(orders()).toHaveLength(1)
  })
})

describe('search and identify', () => {
  test('search carries the query; identify the customer id, on every later event too', async () => {
    const { sent } = await setup()
    window.pz('track', 'search', { query: 'tea lights' })
    window.pz('identify', 'c-9')
    window.pz('track', 'page_view')
    await vi.advanceTimersByTimeAsync(1000)
    const [, search, identify, view] = events(sent)
    expect(search).toMatchObject({ type: 'search', query: 'tea lights' })
    expect(search.customer_id).toBeUndefined()
    expect(identify).toMatchObject({ type: 'identify', customer_id: 'c-9' })
    expect(view.customer_id).toBe('c-9')
  })
})
