// Build the snippet into dist/ (p.js + lazy chunks), then check and print the size budget.
// Fails (exit 1) when the pasted tag is 1 KB or more, or all files together exceed 10 KB gzip.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'

const TAG_MAX = 1024 // bytes, what the merchant pastes (stub + tag)
const GZIP_MAX = 10 * 1024 // bytes, p.js and all chunks together, gzipped

const entries = { p: 'src/p.js', 'pz-blocks': 'src/pz-blocks.js', 'pz-campaigns': 'src/pz-campaigns.js' }

rmSync('dist', { recursive: true, force: true })
mkdirSync('dist')
const result = await esbuild.build({
  entryPoints: Object.entries(entries).map(([out, src]) => ({ in: src, out })),
  outdir: 'dist',
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
writeFileSync('dist/meta.json', JSON.stringify(result.metafile)) // see what grew: esbuild --analyze, or esbuild.github.io/analyze

// The longest plausible tag: a long host and a 64-character site key, plus the optional inline stub.
const tag =
  '<script>window.pz=window.pz||function(){(pz.q=pz.q||[]).push(arguments)}</script>\n' +
  `<script async src="https://personalize.example-merchant-host.com/p.js" data-site-key="pk_${'x'.repeat(61)}"></script>`

const sizes = {}
for (const name of Object.keys(entries)) {
  const code = readFileSync(`dist/${name}.js`)
  sizes[`${name}.js`] = { bytes: code.length, gzip: gzipSync(code, { level: 9 }).length }
}
const total = Object.values(sizes).reduce((t, s) => ({ bytes: t.bytes + s.bytes, gzip: t.gzip + s.gzip }), { bytes: 0, gzip: 0 })
writeFileSync('dist/sizes.json', JSON.stringify({ ...sizes, total, tag: { bytes: tag.length } }, null, 2) + '\n')

const row = (a, b, c, d) => console.log(a.padEnd(18) + String(b).padStart(9) + String(c).padStart(9) + '  ' + d)
row('file', 'bytes', 'gzip', 'budget')
for (const [name, s] of Object.entries(sizes)) row(name, s.bytes, s.gzip, '')
row('all files', total.bytes, total.gzip, `gzip <= ${GZIP_MAX}`)
row('pasted tag', tag.length, '', `bytes < ${TAG_MAX}`)

const over = [total.gzip > GZIP_MAX && 'files over the gzip budget', tag.length >= TAG_MAX && 'tag over 1 KB'].filter(Boolean)
if (over.length) {
  console.error('Size budget exceeded: ' + over.join(', '))
  process.exit(1)
}
