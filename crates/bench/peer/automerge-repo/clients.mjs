// B11's reference clients: the bench's documents synced with automerge-repo's sync server
// (`@automerge/automerge-repo-sync-server`, run unchanged from its npm package).
//
//   node clients.mjs prepare --docs DOCS.json --port P --dir DIR
//       Each client imports its journal as the server already had it (the document before the
//       offline edits), syncs it up and stores it; then, offline, applies its 100 one-edit
//       changes (the same change bytes Daftar's clients push) and stores them.
//   node clients.mjs run --port P --dir DIR --server-pid PID
//       Every client opens its document from its own storage, then all connect at once. A
//       client is done when the server's sync message reports heads equal to its own (the
//       server has applied every change). Prints JSON: wall time, per-client latencies, the
//       server process's CPU time and peak RSS.
//   node clients.mjs verify --docs DOCS.json --dir DIR --data SERVER_DATA_DIR
//       With the server stopped: loads every document from the server's storage folder and
//       checks that it holds the document and every one of its changes.
//
// DOCS.json: [{ "base": base64 of Automerge save(), "changes": [base64 of one change, …] }, …]

import fs from "node:fs"
import path from "node:path"
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

function args() {
  const [cmd, ...rest] = process.argv.slice(2)
  const o = { cmd }
  for (let i = 0; i < rest.length; i += 2) o[rest[i].replace(/^--/, "")] = rest[i + 1]
  return o
}

const b64 = (s) => new Uint8Array(Buffer.from(s, "base64"))
const sameHeads = (a, b) =>
  !!a && !!b && a.length === b.length && [...a].sort().join() === [...b].sort().join()

function fail(message) {
  console.error(`clients.mjs: ${message}`)
  process.exit(1)
}

// Resolves once the server's reported heads for `handle` equal the handle's own heads.
function serverHas(repo, handle, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = (heads) => {
      if (sameHeads(heads, handle.heads())) {
        clearTimeout(timer)
        handle.off("remote-heads", onHeads)
        resolve()
      }
    }
    const onHeads = ({ heads }) => check(heads)
    const timer = setTimeout(
      () => reject(new Error(`server did not acknowledge ${handle.documentId} in ${timeoutMs} ms`)),
      timeoutMs,
    )
    handle.on("remote-heads", onHeads)
    for (const { storageId } of Object.values(repo.peerMetadataByPeerId)) {
      if (storageId) check(handle.getRemoteHeads(storageId))
    }
  })
}

// Runs `f` over `items` with at most `limit` at once.
async function pool(items, limit, f) {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      await f(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

function procStat(pid) {
  // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second).
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const cpu = (Number(fields[11]) + Number(fields[12])) / 100
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key) => Number((status.match(new RegExp(`${key}:\\s+(\\d+)`)) || [0, 0])[1])
  return { cpu, rssMib: kb("VmRSS") / 1024, hwmMib: kb("VmHWM") / 1024 }
}

async function prepare(o) {
  const docs = JSON.parse(fs.readFileSync(o.docs, "utf8"))
  const urls = new Array(docs.length)
  await pool(docs, 20, async (d, i) => {
    const storage = path.join(o.dir, `c${i}`)
    const network = new BrowserWebSocketClientAdapter(`ws://127.0.0.1:${o.port}`)
    const repo = new Repo({ storage: new NodeFSStorageAdapter(storage), network: [network] })
    const handle = repo.import(b64(d.base))
    await handle.whenReady()
    await serverHas(repo, handle, 60000)
    await repo.flush()
    // The adapter throws when its socket is already closing; the process exits at the end.
    try {
      network.disconnect()
    } catch {}
    urls[i] = handle.url
  })
  // Offline: the edits, one change each, stored on the client only.
  await pool(docs, 20, async (d, i) => {
    const repo = new Repo({ storage: new NodeFSStorageAdapter(path.join(o.dir, `c${i}`)), network: [] })
    const handle = repo.find(urls[i])
    await handle.whenReady(["ready", "unavailable", "deleted"])
    if (!handle.isReady()) fail(`client ${i}: its document is not in its own storage`)
    handle.update((doc) => A.applyChanges(doc, d.changes.map(b64))[0])
    await repo.flush()
  })
  fs.writeFileSync(path.join(o.dir, "urls.json"), JSON.stringify(urls))
  // The disconnected adapters keep retry timers alive.
  process.exit(0)
}

async function run(o) {
  const urls = JSON.parse(fs.readFileSync(path.join(o.dir, "urls.json"), "utf8"))
  const clients = await Promise.all(
    urls.map(async (url, i) => {
      const repo = new Repo({ storage: new NodeFSStorageAdapter(path.join(o.dir, `c${i}`)), network: [] })
      const handle = repo.find(url)
      await handle.whenReady(["ready", "unavailable", "deleted"])
      if (!handle.isReady()) fail(`client ${i}: its document is not in its own storage`)
      return { repo, handle }
    }),
  )
  const before = procStat(o["server-pid"])
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  const latencies = await Promise.all(
    clients.map(async ({ repo, handle }) => {
      const t0 = performance.now()
      const done = serverHas(repo, handle, 600000)
      repo.networkSubsystem.addNetworkAdapter(
        new BrowserWebSocketClientAdapter(`ws://127.0.0.1:${o.port}`),
      )
      await done
      return performance.now() - t0
    }),
  )
  const wall = performance.now() - start
  const after = procStat(o["server-pid"])
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(
    JSON.stringify({
      clients: clients.length,
      wall_ms: wall,
      latencies_ms: latencies,
      server_cpu_s: after.cpu - before.cpu,
      client_cpu_s: (cpu.user + cpu.system) / 1e6,
      server_hwm_mib: after.hwmMib,
    }) + "\n",
  )
  process.exit(0)
}

async function verify(o) {
  const docs = JSON.parse(fs.readFileSync(o.docs, "utf8"))
  const urls = JSON.parse(fs.readFileSync(path.join(o.dir, "urls.json"), "utf8"))
  const repo = new Repo({ storage: new NodeFSStorageAdapter(o.data), network: [] })
  const missing = []
  let found = 0
  for (let i = 0; i < docs.length; i++) {
    const base = A.load(b64(docs[i].base))
    const baseHeads = A.getHeads(base)
    const expected = A.applyChanges(base, docs[i].changes.map(b64))[0]
    // Changes whose dependencies are missing would wait unapplied: the expectation itself
    // must hold them, or the check below would pass on the bare document.
    if (docs[i].changes.length > 0 && sameHeads(A.getHeads(expected), baseHeads)) {
      fail(`client ${i}: its changes do not apply to its document`)
    }
    const handle = repo.find(urls[i])
    await handle.whenReady(["ready", "unavailable", "deleted"])
    if (!handle.isReady()) {
      missing.push(`client ${i}: not in the server's storage`)
      continue
    }
    found += 1
    // The stored document must hold every change (automerge-repo's import adds an empty
    // change of its own, so the heads themselves differ from the bare document's).
    if (A.getMissingDeps(handle.docSync(), A.getHeads(expected)).length > 0) {
      missing.push(`client ${i}: the server's document lacks some of its changes`)
    }
  }
  process.stdout.write(JSON.stringify({ found, missing }) + "\n")
  process.exit(0)
}

const o = args()
const commands = { prepare, run, verify }
if (!commands[o.cmd]) fail("usage: clients.mjs prepare|run|verify --…")
commands[o.cmd](o).catch((e) => fail(e.stack || String(e)))
