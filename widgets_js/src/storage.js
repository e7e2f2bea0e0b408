// Storage that honours consent: values always live in memory, and reach localStorage (as pz_*)
// only while m.st.ok. Granting consent later writes what was kept in memory.
export function storage() {
  const mem = {}
  const ls = () => { try { return localStorage } catch { /* blocked (private mode, sandboxed iframe) */ } }
  const read = k => { try { return JSON.parse(ls().getItem('pz_' + k)) } catch { return null } }
  const write = (k, v) => {
    try {
      ls().setItem('pz_' + k, JSON.stringify(v))
    } catch {
      // Full or blocked: drop the stale stored copy, so reads fall back to memory.
      try { ls().removeItem('pz_' + k) } catch { /* blocked */ }
    }
  }
  const st = {
    ok: false,
    // Another tab may have changed a stored value (the queue, the session): read it fresh.
    get: k => st.ok ? read(k) ?? mem[k] : mem[k] ?? read(k),
    set(k, v) { mem[k] = v; if (st.ok) write(k, v) },
    del(k) { delete mem[k]; try { ls().removeItem('pz_' + k) } catch { /* blocked */ } },
    allow(on) {
      st.ok = on
      if (on) for (const k in mem) write(k, mem[k])
    },
    // Opt-out: forget everything this snippet stored on the device.
    wipe() {
      const s = ls()
      try { for (const k of Object.keys(s)) if (k.startsWith('pz_')) s.removeItem(k) } catch { /* blocked */ }
    },
  }
  return st
}
