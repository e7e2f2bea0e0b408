// Block geometry, shared by the reservation (in the core, before anything else loads) and the
// renderer (blocks chunk): the room kept for a block is the room it takes, so nothing shifts.
// Cards have a fixed height (IMAGE px image over TEXT px of text) whatever their width, so a block's
// height depends only on its number of rows, and a store can reserve it in plain CSS too.
export const GAP = 16
export const TITLE = 36
export const CARD = 180 + 100 // IMAGE + TEXT
const MIN_CARD = 160 // narrowest card: sets the number of columns
const BAR = 16 // room for the carousel's scrollbar

// `w` is config.widgets[type]; data-pz-* on the placeholder win. Height 0 while the host is hidden.
export function layout(host, w = {}) {
  const d = host.dataset
  const width = host.clientWidth
  const limit = Math.min(50, +d.pzLimit || w.limit || 8)
  const carousel = (d.pzLayout || w.layout) == 'carousel'
  const title = d.pzTitle ?? w.title // unknown before the config: room is kept for one
  const max = +getComputedStyle(host).getPropertyValue('--pz-columns') || 4
  const cols = Math.max(1, Math.min(max, Math.floor((width + GAP) / (MIN_CARD + GAP))))
  // A carousel shows a third of the next card, so shoppers see there is more.
  const card = carousel ? (width - GAP * cols) / (cols + 0.3) : (width - GAP * (cols - 1)) / cols
  const rows = carousel ? 1 : Math.ceil(limit / cols)
  const height = (title !== '' ? TITLE : 0) + rows * (CARD + GAP) - GAP + (carousel ? BAR : 0)
  return { limit, carousel, title, cols, card, height: width && height }
}

// Keep `h` px for a block. Growing is always right (the content will need it); shrinking only while
// the block is below the viewport, where nothing the shopper sees moves. Room the store reserved in
// its own CSS counts: a placeholder already tall enough is left alone.
export function reserve(host, h) {
  if (h && (h > host.offsetHeight || host.getBoundingClientRect().top >= innerHeight))
    host.style.setProperty('min-height', h + 'px')
}
