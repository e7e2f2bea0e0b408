import { describe, expect, test, vi } from 'vitest'
import { CONFIG, events, setup, stored } from './helpers.js'

const campaign = (id, extra = {}) => ({
  id,
  name: 'Campaign ' + id,
  kind: 'popup',
  priority: 10,
  trigger: { type: 'load' },
  targeting: {},
  content: { title: 'Title ' + id, text: 'Text ' + id, image_url: '', cta_text: 'Shop now', cta_url: '/demo/sale', coupon_code: 'HELLO10', widget: null },
  ...extra,
})
const withCampaigns = (list, more = {}) => ({ ...CONFIG, campaigns: list, ...more })
const dialogs = () => [...document.querySelectorAll('[data-pz-campaign]')]
const open = () => dialogs()[0]?.shadowRoot
const key = (k, opts = {}) => document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, ...opts }))
const campaignEvents = sent => events(sent).filter(e => e.type.startsWith('campaign')).map(e => e.type + ':' + e.campaign_id)
const later = async ms => vi.advanceTimersByTimeAsync(ms)
// Another page in the same session: a fresh snippet, the same localStorage.
async function nextPage(config, ms = 1000) {
  await later(ms)
  const keep = { ...localStorage }
  return setup({ config, now: Date.now(), before: () => Object.entries(keep).forEach(([k, v]) => localStorage.setItem(k, v)) })
}

describe('the dialog', () => {
  test('a load campaign opens an accessible dialog with its content as text', async () => {
    const evil = campaign('12', { content: { ...campaign('12').content, title: '<img src=x onerror=alert(1)>' } })
    const { sent } = await setup({ config: withCampaigns([evil]) })
    const root = open()
    const box = root.querySelector('[role=dialog]')
    expect(box.getAttribute('aria-modal')).toBe('true')
    const title = root.getElementById(box.getAttribute('aria-labelledby'))
    expect(title.textContent).toBe('<img src=x onerror=alert(1)>')
    expect(root.querySelectorAll('img')).toHaveLength(0)
    expect(root.querySelector('p').textContent).toBe('Text 12')
    expect(root.querySelector('code').textContent).toBe('HELLO10')
    expect(root.querySelector('a.a').getAttribute('href')).toBe('https://shop.test/demo/sale')
    expect(root.adoptedStyleSheets).toHaveLength(1)
    expect(root.activeElement).toBe(root.querySelector('button.x')) // focus moved in
    await later(1000)
    expect(campaignEvents(sent)).toEqual(['campaign_impression:12'])
  })

  test('Esc closes it, focus returns, and it is never shown again', async () => {
    const { sent } = await setup({
      config: withCampaigns([campaign('12')]),
      before() {
        document.body.innerHTML = '<button id="buy">Buy</button>'
        document.getElementById('buy').focus()
      },
    })
    expect(dialogs()).toHaveLength(1)
    key('Escape')
    expect(dialogs()).toHaveLength(0)
    expect(document.activeElement.id).toBe('buy')
    await later(1000)
    expect(campaignEvents(sent)).toEqual(['campaign_impression:12', 'campaign_close:12'])
    expect(stored('b').x).toEqual(['12'])
    // Even in a new session, with budget to spare.
    await nextPage(withCampaigns([campaign('12')]), 31 * 60 * 1000)
    expect(dialogs()).toHaveLength(0)
  })

  test('Tab and Shift+Tab stay inside the dialog', async () => {
    await setup({ config: withCampaigns([campaign('12')]) })
    const root = open()
    const [close, copy, cta] = [root.querySelector('.x'), root.querySelector('button.c'), root.querySelector('a.a')]
    key('Tab')
    expect(root.activeElement).toBe(copy)
    key('Tab')
    expect(root.activeElement).toBe(cta)
    key('Tab')
    expect(root.activeElement).toBe(close)
    key('Tab', { shiftKey: true })
    expect(root.activeElement).toBe(cta)
  })

  test('the close button and a backdrop click close it', async () => {
    await setup({ config: withCampaigns([campaign('12')], { budget: { per_session: 5, per_day: 5 } }) })
    open().querySelector('.d').click() // inside the box: stays open
    expect(dialogs()).toHaveLength(1)
    open().querySelector('.o').click()
    expect(dialogs()).toHaveLength(0)
    await setup({ config: withCampaigns([campaign('13')]) })
    open().querySelector('.x').click()
    expect(dialogs()).toHaveLength(0)
  })

  test('the CTA sends campaign_click at once, and the campaign is done', async () => {
    const { sent } = await setup({ config: withCampaigns([campaign('12')]) })
    open().querySelector('a.a').dispatchEvent(new MouseEvent('click', { cancelable: true }))
    await later(0)
    expect(campaignEvents(sent)).toEqual(['campaign_impression:12', 'campaign_click:12'])
    expect(stored('b').x).toEqual(['12'])
  })

  test('the copy button copies the coupon code', async () => {
    const writeText = vi.fn(async () => {})
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    await setup({ config: withCampaigns([campaign('12')]) })
    const copy = open().querySelector('button.c')
    copy.click()
    await later(0)
    expect(writeText).toHaveBeenCalledWith('HELLO10')
    expect(copy.textContent).toBe('Copied')
  })

  test('an embedded recommendation block renders inside the dialog', async () => {
    const content = { ...campaign('12').content, widget: 'trending', widget_limit: 3 }
    const recs = { rec_id: 'r9', widget: 'trending', items: [{ product_id: 'A', title: 'Candle', url: '/p/A', image_url: '', price: 1, currency: 'GBP', reason: '' }] }
    const { calls } = await setup({ config: withCampaigns([campaign('12', { content })]), recs })
    await later(1)
    const q = new URL(calls.find(u => u.includes('/recommendations'))).searchParams
    expect([q.get('widget'), q.get('limit')]).toEqual(['trending', '3'])
    const block = open().querySelector('[data-pz-widget]')
    expect(block.shadowRoot.querySelector('.n').textContent).toBe('Candle')
  })
})

describe('the attention budget', () => {
  const two = [campaign('hi', { priority: 20 }), campaign('lo', { priority: 5 })]

  test('the highest priority goes first, one at a time, one per session', async () => {
    const { sent } = await setup({ config: withCampaigns(two) })
    expect(dialogs().map(d => d.dataset.pzCampaign)).toEqual(['hi'])
    await later(1000)
    expect(dialogs()).toHaveLength(1) // one open at a time
    key('Escape')
    await later(5000)
    expect(dialogs()).toHaveLength(0) // per_session: 1
    await nextPage(withCampaigns(two))
    expect(dialogs()).toHaveLength(0)
    expect(campaignEvents(sent)).toEqual(['campaign_impression:hi', 'campaign_close:hi'])
  })

  test('per_day counts shows over a rolling day, across sessions', async () => {
    const three = [campaign('a'), campaign('b'), campaign('c')]
    const config = withCampaigns(three)
    await setup({ config })
    expect(open().querySelector('h2').textContent).toBe('Title a')
    // Left open, not closed: the next session may show a again; it still counts towards the day.
    await nextPage(config, 31 * 60 * 1000)
    expect(dialogs().map(d => d.dataset.pzCampaign)).toEqual(['a'])
    key('Escape')
    await nextPage(config, 31 * 60 * 1000)
    expect(dialogs()).toHaveLength(0) // 2 today already
    await nextPage(config, 24 * 3600 * 1000)
    expect(dialogs().map(d => d.dataset.pzCampaign)).toEqual(['b'])
  })

  test('hold-out visitors see no campaigns', async () => {
    const config = withCampaigns([campaign('12')], { holdout: { share: 1, seed: '3' } })
    await setup({ config })
    await later(5000)
    expect(dialogs()).toHaveLength(0)
  })

  test('no campaigns before consent where it is required', async () => {
    const config = withCampaigns([campaign('12')], { consent: { required: true } })
    await setup({ config })
    expect(dialogs()).toHaveLength(0)
    window.pz('consent', true)
    await later(0)
    expect(dialogs()).toHaveLength(1)
  })

  test('targeting is checked at show time', async () => {
    const config = withCampaigns([campaign('cart', { targeting: { min_cart_value: 10 } })])
    await setup({ config })
    await later(2000)
    expect(dialogs()).toHaveLength(0)
    window.pz('track', 'add_to_cart', { product_id: 'A', quantity: 1, price: 12 })
    await later(1000)
    expect(dialogs()).toHaveLength(1)
  })
})

describe('triggers', () => {
  test('delay: after delay_seconds on the page', async () => {
    await setup({ config: withCampaigns([campaign('d', { trigger: { type: 'delay', delay_seconds: 5 } })]) })
    await later(4000)
    expect(dialogs()).toHaveLength(0)
    await later(1000)
    expect(dialogs()).toHaveLength(1)
  })

  test('scroll: once the shopper scrolled that far down', async () => {
    Object.defineProperty(document.documentElement, 'scrollHeight', { value: 2768, configurable: true })
    await setup({ config: withCampaigns([campaign('s', { trigger: { type: 'scroll', scroll_percent: 50 } })]) })
    expect(dialogs()).toHaveLength(0)
    Object.defineProperty(window, 'scrollY', { value: 1000, configurable: true })
    window.dispatchEvent(new Event('scroll'))
    expect(dialogs()).toHaveLength(1)
    delete window.scrollY
    delete document.documentElement.scrollHeight
  })

  test('exit intent on desktop: the pointer leaves through the top of the window', async () => {
    const { sent } = await setup({ config: withCampaigns([campaign('x', { kind: 'exit_intent', trigger: { type: 'exit' } })]) })
    await later(5000)
    document.dispatchEvent(new MouseEvent('mouseout', { clientY: 300, relatedTarget: null }))
    document.dispatchEvent(new MouseEvent('mouseout', { clientY: 0, relatedTarget: document.body }))
    expect(dialogs()).toHaveLength(0)
    document.dispatchEvent(new MouseEvent('mouseout', { clientY: 0, relatedTarget: null }))
    expect(dialogs()).toHaveLength(1)
    await later(1000)
    expect(campaignEvents(sent)).toEqual(['campaign_impression:x'])
  })

  test('exit intent on mobile: a fast scroll up, or 30 s idle', async () => {
    const config = withCampaigns([campaign('x', { kind: 'exit_intent', trigger: { type: 'exit' } })], { budget: { per_session: 5, per_day: 5 } })
    const y = v => (Object.defineProperty(window, 'scrollY', { value: v, configurable: true }), window.dispatchEvent(new Event('scroll')))
    vi.stubGlobal('matchMedia', () => ({ matches: true }))
    y(2000)
    await setup({ config })
    y(1980)
    await later(200)
    y(1900) // slow: 100px in 200ms
    await later(400)
    y(1890)
    expect(dialogs()).toHaveLength(0)
    await later(100)
    y(1700) // 190px in 100ms
    expect(dialogs()).toHaveLength(1)
    open().querySelector('.x').click()
    // A new campaign after closing the first, shown after 30 s without activity.
    const idle = withCampaigns([campaign('i', { kind: 'exit_intent', trigger: null })], { budget: { per_session: 5, per_day: 5 } })
    await setup({ config: idle })
    await later(29000)
    expect(dialogs()).toHaveLength(0)
    await later(1000)
    expect(dialogs()).toHaveLength(1)
    delete window.scrollY
  })
})
