import { describe, expect, test, vi } from 'vitest'
import { CONFIG, setup, types } from './helpers.js'

const REQUIRED = { ...CONFIG, consent: { required: true, honor_gpc: true, honor_dnt: true } }
const pzKeys = () => Object.keys(localStorage).filter(k => k.startsWith('pz_'))

describe('consent required', () => {
  test('nothing is stored or sent before pz("consent", true), everything after', async () => {
    const { sent } = await setup({ config: REQUIRED })
    window.pz('track', 'add_to_cart', { product_id: 'A', quantity: 1 })
    await vi.advanceTimersByTimeAsync(60000)
    expect(sent).toEqual([])
    expect(pzKeys()).toEqual([])
    expect(document.cookie).toBe('')

    window.pz('consent', true)
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['page_view', 'add_to_cart'])
    expect(pzKeys().sort()).toEqual(['pz_c', 'pz_consent', 'pz_q', 'pz_s', 'pz_vid'])
    expect(localStorage.getItem('pz_consent')).toBe('1')
  })

  test('a remembered grant counts on the next page', async () => {
    const { sent } = await setup({ config: REQUIRED, before: () => localStorage.setItem('pz_consent', '1') })
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['page_view'])
  })

  test('a refusal drops the waiting events and forgets what was stored', async () => {
    const { sent } = await setup({ config: REQUIRED })
    window.pz('consent', false)
    window.pz('track', 'search', { query: 'x' })
    await vi.advanceTimersByTimeAsync(60000)
    expect(sent).toEqual([])
    expect(pzKeys()).toEqual([])
    window.pz('consent', true) // a later change of mind: only what happens from now on
    window.pz('track', 'search', { query: 'y' })
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['search'])
  })

  test('withdrawing consent stops sending and wipes pz_* keys', async () => {
    const { sent } = await setup()
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent).toHaveLength(1)
    window.pz('consent', false)
    window.pz('track', 'search', { query: 'x' })
    await vi.advanceTimersByTimeAsync(60000)
    expect(sent).toHaveLength(1)
    expect(pzKeys()).toEqual([])
  })
})

describe('before the config arrives', () => {
  test('events wait in memory, not in storage, and go out once the config allows', async () => {
    let answer
    const { sent, m, json } = await setup({ config: () => new Promise(r => (answer = r)) })
    window.pz('track', 'search', { query: 'x' })
    await vi.advanceTimersByTimeAsync(5000)
    expect(m.allowed).toBe(undefined)
    expect(sent).toEqual([])
    expect(pzKeys()).toEqual([])
    expect(m.pending.map(e => e.type)).toEqual(['page_view', 'search'])
    answer(json(CONFIG))
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['page_view', 'search'])
  })

  test('without a config (server down, unknown key) nothing is sent', async () => {
    const { sent, json } = await setup({ config: () => json({}, 403) })
    await vi.advanceTimersByTimeAsync(60000)
    expect(sent).toEqual([])
    expect(pzKeys()).toEqual([])
  })
})

describe('browser privacy signals', () => {
  test('Global Privacy Control: nothing is sent or stored', async () => {
    const { sent } = await setup({ before: () => (navigator.globalPrivacyControl = true) })
    window.pz('track', 'search', { query: 'x' })
    await vi.advanceTimersByTimeAsync(60000)
    expect(sent).toEqual([])
    expect(pzKeys()).toEqual([])
    delete navigator.globalPrivacyControl
  })

  test('Do Not Track: nothing is sent', async () => {
    const { sent } = await setup({ before: () => Object.defineProperty(navigator, 'doNotTrack', { value: '1', configurable: true }) })
    await vi.advanceTimersByTimeAsync(60000)
    expect(sent).toEqual([])
    delete navigator.doNotTrack
  })

  test('an explicit pz("consent", true) overrides GPC', async () => {
    const { sent } = await setup({ before: () => (navigator.globalPrivacyControl = true) })
    window.pz('consent', true)
    window.pz('track', 'search', { query: 'x' })
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['search'])
    delete navigator.globalPrivacyControl
  })

  test('a shop that does not honour GPC tracks anyway', async () => {
    const config = { ...CONFIG, consent: { required: false, honor_gpc: false, honor_dnt: true } }
    const { sent } = await setup({ config, before: () => (navigator.globalPrivacyControl = true) })
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sent)).toEqual(['page_view'])
    delete navigator.globalPrivacyControl
  })
})
