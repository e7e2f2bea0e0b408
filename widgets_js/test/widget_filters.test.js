import { describe, expect, test, vi } from 'vitest'
import { approach, CONFIG, setup } from './helpers.js'

// The dashboard's widget editor saves default filters per widget type; the config carries them.
const config = {
  ...CONFIG,
  widgets: { ...CONFIG.widgets, trending: { title: 'Trending', limit: 8, layout: 'grid', category: 'Home > Candles', max_price: 30 } },
}

async function askedFor(attrs) {
  const { calls } = await setup({
    config,
    before() {
      document.body.innerHTML = `<div ${attrs}></div>`
      Object.defineProperty(document.querySelector('[data-pz-widget]'), 'clientWidth', { value: 800 })
    },
  })
  approach(document.querySelector('[data-pz-widget]'))
  await vi.advanceTimersByTimeAsync(1)
  const url = calls.find(u => u.includes('/recommendations'))
  return new URL(url).searchParams
}

describe("a widget type's default filters", () => {
  test('apply to placeholders that name none', async () => {
    const q = await askedFor('data-pz-widget="trending"')
    expect([q.get('category'), q.get('min_price'), q.get('max_price')]).toEqual(['Home > Candles', null, '30'])
  })

  test("a placeholder's own filters win", async () => {
    const q = await askedFor('data-pz-widget="trending" data-pz-category="Garden" data-pz-max-price="5"')
    expect([q.get('category'), q.get('max_price')]).toEqual(['Garden', '5'])
  })

  test('other widget types get none', async () => {
    const q = await askedFor('data-pz-widget="for_you"')
    expect(q.has('category') || q.has('max_price')).toBe(false)
  })
})
