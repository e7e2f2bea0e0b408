// The ROI page's charts (a dashboard file, not part of the storefront snippet or its size budget).
// Each <canvas data-roi-chart="NAME" data-source="TABLE_ID"> is drawn from the table beside it: the
// accessible table is the single source of the numbers (columns named by th[data-series], values in
// td[data-value]), so the page needs no inline script and works without this file.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js'

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip)

const COLORS = { revenue: '#1f4e79', attributed: '#2e8b57', visitors: '#b35900', orders: '#6a3d9a' }

function money(currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, notation: 'compact' })
  } catch {
    return new Intl.NumberFormat()
  }
}

const CHARTS = {
  revenue: (d, fmt) => ({
    type: 'bar',
    data: {
      labels: d.labels,
      datasets: [
        { label: 'Revenue', data: d.revenue, backgroundColor: COLORS.revenue },
        { label: 'Attributed revenue', data: d.attributed, backgroundColor: COLORS.attributed },
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { callback: v => fmt.format(v) } } } },
  }),
  traffic: d => ({
    type: 'line',
    data: {
      labels: d.labels,
      datasets: [
        { label: 'Visitors', data: d.visitors, borderColor: COLORS.visitors, backgroundColor: COLORS.visitors, tension: 0.2 },
        { label: 'Orders', data: d.orders, borderColor: COLORS.orders, backgroundColor: COLORS.orders, tension: 0.2, yAxisID: 'y1' },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, title: { display: true, text: 'Visitors' } },
        y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'Orders' } },
      },
    },
  }),
}

function series(table) {
  const names = [...table.tHead.rows[0].cells].map(th => th.dataset.series)
  const out = Object.fromEntries(names.filter(Boolean).map(n => [n, []]))
  for (const row of table.tBodies[0].rows) {
    ;[...row.cells].forEach((cell, i) => {
      const name = names[i]
      if (name) out[name].push(name === 'labels' ? cell.textContent.trim() : Number(cell.dataset.value))
    })
  }
  return out
}

function draw() {
  const reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches
  for (const canvas of document.querySelectorAll('canvas[data-roi-chart]')) {
    const make = CHARTS[canvas.dataset.roiChart]
    const table = document.getElementById(canvas.dataset.source)
    if (!make || !table) continue
    const config = make(series(table), money(canvas.dataset.currency || 'USD'))
    config.options = { ...config.options, responsive: true, maintainAspectRatio: false, animation: reduced ? false : undefined }
    new Chart(canvas, config)
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw)
else draw()
