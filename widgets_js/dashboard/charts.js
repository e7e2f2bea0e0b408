// The ROI page's charts (a dashboard file, not part of the storefront snippet or its size budget).
// Reads the numbers the server rendered into <script type="application/json" id="roi-data"> and draws
// one chart per <canvas data-roi-chart="NAME">; the tables beside them carry the same numbers.
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
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 0 })
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

function draw() {
  const source = document.getElementById('roi-data')
  if (!source) return
  const data = JSON.parse(source.textContent)
  const fmt = money(data.currency)
  const reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches
  for (const canvas of document.querySelectorAll('canvas[data-roi-chart]')) {
    const make = CHARTS[canvas.dataset.roiChart]
    if (!make) continue
    const config = make(data, fmt)
    config.options = { ...config.options, responsive: true, maintainAspectRatio: false, animation: reduced ? false : undefined }
    new Chart(canvas, config)
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw)
else draw()
