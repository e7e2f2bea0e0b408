import { describe, expect, test, vi } from 'vitest'
import { unit } from '../src/hash.js'
import { CONFIG, events, setup } from './helpers.js'

// Campaign 12 split A 40% (its own content) / B 60%, as build_snippet_config sends it.
const content = { title: 'Original title', text: 'Original text', image_url: '', cta_text: 'Shop now', cta_url: '/sale', coupon_code: 'HELLO10', widget: null, widget_limit: 4 }
const tested = {
  id: '12',
  name: 'Welcome',
  kind: 'popup',
  priority: 1,
  trigger: { type: 'load' },
  targeting: {},
  content,
  variants: [
    { key: 'A', upto: 0.4 },
    { key: 'B', upto: 1, content: { ...content, title: 'Variant title', coupon_code: 'B20' } },
  ],
}
const config = { ...CONFIG, campaigns: [tested] }
const asVisitor = vid => () => localStorage.setItem('pz_vid', JSON.stringify(vid))
const title = () => document.querySelector('[data-pz-campaign]').shadowRoot.querySelector('h2').textContent
const campaignEvents = sent => events(sent).filter(e => e.type.startsWith('campaign'))

describe('A/B variants', () => {
  // Buckets computed by personalize.campaigns.variants.variant_bucket('12', vid) in Python:
  // visitor-1 0.13, visitor-6 0.194, visitor-3 0.5578, visitor-5 0.7847.
  test.each([
    ['visitor-1', 'A', 'Original title'],
    ['visitor-6', 'A', 'Original title'],
    ['visitor-3', 'B', 'Variant title'],
    ['visitor-5', 'B', 'Variant title'],
  ])('%s sees variant %s, the server agrees on the bucket', async (vid, key, shown) => {
    const { sent } = await setup({ config, before: asVisitor(vid) })
    expect(title()).toBe(shown)
    document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
    await vi.advanceTimersByTimeAsync(1000)
    const sentEvents = campaignEvents(sent)
    expect(sentEvents.map(e => [e.type, e.campaign_id, e.properties])).toEqual([
      ['campaign_impression', '12', { variant: key }],
      ['campaign_close', '12', { variant: key }],
    ])
  })

  test('the CTA click carries the variant too', async () => {
    const { sent } = await setup({ config, before: asVisitor('visitor-3') })
    document.querySelector('[data-pz-campaign]').shadowRoot.querySelector('a.a').click()
    await vi.advanceTimersByTimeAsync(1000)
    expect(campaignEvents(sent).map(e => [e.type, e.properties.variant])).toEqual([
      ['campaign_impression', 'B'],
      ['campaign_click', 'B'],
    ])
    expect(document.querySelector('[data-pz-campaign]')).toBeNull()
  })

  test('a campaign without variants sends no variant', async () => {
    const { variants, ...plain } = tested
    const { sent } = await setup({ config: { ...CONFIG, campaigns: [plain] }, before: asVisitor('visitor-3') })
    expect(title()).toBe('Original title')
    await vi.advanceTimersByTimeAsync(1000)
    const [impression] = campaignEvents(sent)
    expect(impression.type).toBe('campaign_impression')
    expect(impression.properties).toBeUndefined()
  })

  test('assignment is stable and splits as configured', () => {
    const bucket = vid => unit(vid + ':12')
    let b = 0
    for (let i = 0; i < 10000; i++) b += bucket('v' + i) >= 0.4
    expect(b / 10000).toBeGreaterThan(0.57)
    expect(b / 10000).toBeLessThan(0.63)
    expect(bucket('visitor-3')).toBeCloseTo(0.5578, 4) // the server's variant_bucket('12', 'visitor-3')
  })
})
