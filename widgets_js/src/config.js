// The shop's snippet settings: one small cacheable GET (public, max-age=60).
export async function loadConfig(m, tries = 3) {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(m.base + 'api/v1/config?site_key=' + encodeURIComponent(m.key))
      if (res.ok) return await res.json()
      if (res.status < 500) return null // unknown key or origin: stay quiet
    } catch { /* offline: retry below */ }
    if (i + 1 >= tries) return null
    await new Promise(r => setTimeout(r, 5000 * 2 ** i))
  }
}
