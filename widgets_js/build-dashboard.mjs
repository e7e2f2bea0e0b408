// Build the merchant dashboard's chart bundle (Chart.js from npm, no CDN) into the analytics app's
// static files. Separate from build.mjs: it is not part of the storefront snippet or its size budget.
import * as esbuild from 'esbuild'

await esbuild.build({
  entryPoints: ['dashboard/charts.js'],
  outfile: '../personalize/analytics/static/analytics/charts.js',
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'linked',
  logLevel: 'warning',
})
