// The fast start of twochat-voice-web: Pyodide with the SDK, as early and as cheaply as a browser allows.
//
// What it does (every step measured by bench/bench_startup.py):
//  - loads Python from the build's *Python bundle* (build-info.json "python_bundle"): a trimmed standard
//    library compiled to bytecode (loadPyodide's stdLibURL) and the SDK compiled to bytecode, instead of
//    python_stdlib.zip plus wheels: nothing is compiled from source in the page, no wheel is unpacked, and
//    pyodide-lock.json is not fetched (the bundle needs no packages);
//  - imports twochat_voice_web, then keeps a *memory snapshot* of the interpreter in Cache Storage: a
//    returning visitor's Python starts from it, skipping CPython's start-up and every import (the snapshot
//    is named by the build id, so a new build never starts from an old one; a snapshot that fails to load
//    is dropped and Python starts normally);
//  - registers the service worker (sw.js) a little after Python is up (when the page is idle), so that the
//    runtime files of a returning visitor come from Cache Storage, never from the network.
//
// Start the runtime at the top of the page, in parallel with your token fetch:
//
//   <link rel="modulepreload" href="./scripts/twochat-start.mjs">
//   <link rel="modulepreload" href="./pyodide/pyodide.mjs">
//   <link rel="preload" href="./pyodide/pyodide.asm.wasm" as="fetch" crossorigin>
//   <link rel="preload" href="./build-info.json" as="fetch" crossorigin>
//   <script type="module">
//     import { startPython } from "./scripts/twochat-start.mjs";
//     const python = startPython();                         // starts downloading at once
//     const token = fetch("/your/backend/token", {method: "POST"}).then((r) => r.json());
//     const { pyodide } = await python;                     // twochat_voice_web is imported
//     pyodide.globals.set("token", (await token).token);
//     await pyodide.runPythonAsync(`
//   from twochat_voice_web import Device
//   device = Device(token)
//   await device.register()
//   `);
//   </script>
//
// startPython(options) resolves to {pyodide, buildInfo, snapshot, snapshotSaved, timings}:
//   snapshot       "restored" (started from a snapshot), "made" (started normally, snapshot taken) or "off"
//   snapshotSaved  a Promise that settles once the snapshot is in Cache Storage (true) or was not kept (false);
//                  it is written when the page is idle, after its own start
//   timings        milliseconds since navigation start: runtime (build-info.json read, pyodide.mjs loaded:
//                  loadPyodide starts), python (interpreter up), imported (the SDK imported, first visit),
//                  snapshot (snapshot taken, first visit), sdk (ready for the page)
// Options: site (the URL of the built site, default: the folder above this script), snapshot (default
// true), serviceWorker (default true: register <site>/sw.js when the page is idle, 2 s after Python is up),
// stdout / stderr (loadPyodide's, one line per call), pyscript (default false: also put PyScript's own
// package, compiled to bytecode by build.py, first on sys.path; set by twochat-pyodide.mjs, the module a
// PyScript page names as its "interpreter").
//
// PyScript pages: <script type="py" config="/pyscript.json"> with pyscript.json
// {"interpreter": "/scripts/twochat-pyodide.mjs"} start the same way (see twochat-pyodide.mjs).

const SNAPSHOT_CACHE = "twochat-snapshots";
/** What Python imports before the snapshot is taken (modules whose import does not reach JavaScript). */
const SDK_IMPORTS = "import twochat_voice_web, twochat_voice_web.device, twochat_voice_web.call";

/** The URL of the built site (dist/site): the folder above scripts/. */
const DEFAULT_SITE = new URL("../", import.meta.url);

function now() {
  return Math.round(performance.now());
}

async function fetchOk(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${what}: GET ${url} answered HTTP ${response.status}`);
  return response;
}

async function openSnapshots() {
  try {
    return typeof caches === "undefined" ? null : await caches.open(SNAPSHOT_CACHE);
  } catch (error) {
    return null; // Cache Storage can be unavailable (opaque origins, some private modes)
  }
}

/**
 * The stored snapshot, or null: ``{bytes}``, a promise of the unpacked memory, handed to loadPyodide as it
 * is (Pyodide awaits it after it has started fetching the runtime and the standard library, so reading and
 * unpacking the snapshot overlaps those downloads and the wasm compilation).
 */
async function findSnapshot(cache, key) {
  if (cache === null) return null;
  try {
    const hit = await cache.match(key);
    if (!hit) return null;
    const bytes = hit.arrayBuffer().then((buffer) => unpackSnapshot(new Uint8Array(buffer)));
    bytes.catch(() => {}); // awaited by loadPyodide; a failure is handled there
    return { bytes };
  } catch (error) {
    return null;
  }
}

// A snapshot is the interpreter's whole wasm memory (30 MB), about half of it pages that were never
// written. It is stored without them: a magic, the memory's size, one byte per 64 KiB page (1: stored), then
// the stored pages; unpacking allocates zeroed memory and copies the stored pages back.
const SNAPSHOT_MAGIC = 0x32534354; // "TCS2", little-endian
const SNAPSHOT_PAGE = 65536;

function isZeroPage(words, start, end) {
  for (let index = start; index < end; index++) if (words[index] !== 0) return false;
  return true;
}

/** ``bytes`` (a memory snapshot) without its all-zero pages (see above). */
export function packSnapshot(bytes) {
  const pages = Math.ceil(bytes.length / SNAPSHOT_PAGE);
  const aligned = bytes.byteOffset % 4 === 0;
  const words = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
  const stored = new Uint8Array(pages);
  let storedBytes = 0;
  for (let page = 0; page < pages; page++) {
    const start = page * SNAPSHOT_PAGE;
    const end = Math.min(start + SNAPSHOT_PAGE, bytes.length);
    const zero = words !== null && end % 4 === 0
      ? isZeroPage(words, start >>> 2, end >>> 2)
      : isZeroPage(bytes, start, end);
    if (!zero) {
      stored[page] = 1;
      storedBytes += end - start;
    }
  }
  const header = 8;
  const packed = new Uint8Array(header + pages + storedBytes);
  const view = new DataView(packed.buffer);
  view.setUint32(0, SNAPSHOT_MAGIC, true);
  view.setUint32(4, bytes.length, true);
  packed.set(stored, header);
  let offset = header + pages;
  for (let page = 0; page < pages; page++) {
    if (!stored[page]) continue;
    const chunk = bytes.subarray(page * SNAPSHOT_PAGE, Math.min((page + 1) * SNAPSHOT_PAGE, bytes.length));
    packed.set(chunk, offset);
    offset += chunk.length;
  }
  return packed;
}

/** The memory snapshot that :func:`packSnapshot` packed; throws on anything else. */
export function unpackSnapshot(packed) {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  if (packed.length < 8 || view.getUint32(0, true) !== SNAPSHOT_MAGIC) throw new Error("not a packed snapshot");
  const size = view.getUint32(4, true);
  const pages = Math.ceil(size / SNAPSHOT_PAGE);
  const bytes = new Uint8Array(size);
  let offset = 8 + pages;
  for (let page = 0; page < pages; page++) {
    if (!packed[8 + page]) continue;
    const length = Math.min(SNAPSHOT_PAGE, size - page * SNAPSHOT_PAGE);
    if (offset + length > packed.length) throw new Error("truncated snapshot");
    bytes.set(packed.subarray(offset, offset + length), page * SNAPSHOT_PAGE);
    offset += length;
  }
  if (offset !== packed.length) throw new Error("snapshot size mismatch");
  return bytes;
}

async function saveSnapshot(cache, key, bytes) {
  if (cache === null) return false;
  try {
    const packed = packSnapshot(bytes);
    await cache.put(key, new Response(packed, { headers: { "Content-Type": "application/octet-stream" } }));
    for (const request of await cache.keys()) {
      if (request.url !== key) await cache.delete(request); // snapshots of other builds
    }
    return true;
  } catch (error) {
    console.warn("twochat: the Python snapshot could not be stored:", error);
    return false;
  }
}

/** Resolves once the page has been idle for a moment, at least ``delay`` ms from now. */
function whenIdle(delay) {
  return new Promise((resolve) => setTimeout(() => {
    if ("requestIdleCallback" in window) window.requestIdleCallback(() => resolve(), { timeout: 2000 });
    else resolve();
  }, delay));
}

function registerServiceWorker(site) {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register(new URL("sw.js", site), { scope: new URL("./", site).pathname })
    .catch((error) => console.warn("twochat: service worker not registered:", error));
}

/**
 * Start Pyodide with twochat_voice_web imported (see the top of this file).
 * @param {{site?: string | URL, snapshot?: boolean, serviceWorker?: boolean}} [options]
 */
export async function startPython(options = {}) {
  const site = new URL(options.site ?? DEFAULT_SITE, location.href);
  const useSnapshot = options.snapshot ?? true;
  const timings = {};
  const runtime = import(new URL("pyodide/pyodide.mjs", site).href);
  runtime.catch(() => {}); // awaited below; a failure is reported there, not as an unhandled rejection
  // loadPyodide imports the Emscripten module (pyodide.asm.mjs, 200 kB compressed) only once it runs:
  // importing it now puts it in the module map while build-info.json and the snapshot are read.
  import(new URL("pyodide/pyodide.asm.mjs", site).href).catch(() => {});
  const snapshots = useSnapshot ? openSnapshots() : Promise.resolve(null);
  const buildInfo = await (await fetchOk(new URL("build-info.json", site), "build info")).json();
  const bundle = buildInfo.python_bundle;
  const sdkZip = fetchOk(new URL(bundle.sdk_url, site), "the SDK bundle").then((r) => r.arrayBuffer());
  sdkZip.catch(() => {}); // awaited in fsInit; a failure is reported there
  const pyscriptZip = options.pyscript
    ? fetchOk(new URL(bundle.pyscript_url, site), "PyScript's package").then((r) => r.arrayBuffer())
    : null;
  pyscriptZip?.catch(() => {}); // awaited once Python is up; a failure is reported there
  const snapshotKey = new URL(`twochat-snapshot/v2/${buildInfo.build_id}`, site).href;
  const cache = await snapshots;
  const saved = await findSnapshot(cache, snapshotKey);
  const { loadPyodide } = await runtime;
  timings.runtime = now();

  const indexURL = new URL("pyodide/", site).href;
  const config = (extra) => ({
    indexURL,
    stdLibURL: new URL(bundle.stdlib_url, site).href,
    lockFileContents: { info: buildInfo.pyodide_lock_info, packages: {} },
    packageBaseUrl: indexURL,
    env: { PYTHONPATH: bundle.sdk_path },
    fsInit: async (FS) => FS.writeFile(bundle.sdk_path, new Uint8Array(await sdkZip)),
    ...(options.stdout ? { stdout: options.stdout } : {}),
    ...(options.stderr ? { stderr: options.stderr } : {}),
    ...extra,
  });

  let pyodide = null;
  let snapshot = "off";
  if (saved !== null) {
    try {
      pyodide = await loadPyodide(config({ _loadSnapshot: saved.bytes }));
      // The snapshot froze the random module's state: every page restoring it would draw the same numbers.
      pyodide.runPython("import random\nrandom.seed()");
      snapshot = "restored";
    } catch (error) {
      console.warn("twochat: the Python snapshot did not load; starting Python normally:", error);
      await cache.delete(snapshotKey).catch(() => {});
      pyodide = null;
    }
  }
  let snapshotSaved = Promise.resolve(false);
  if (pyodide === null) {
    pyodide = await loadPyodide(config(cache !== null ? { _makeSnapshot: true } : {}));
    timings.python = now();
    // The pure part of the SDK: Device, Call and the SIP core they import (none of them touches JavaScript
    // while it is imported, so the snapshot can hold them and a returning visitor imports nothing of them;
    // twochat_voice_web alone would import only its errors: its classes are loaded on first use).
    pyodide.runPython(SDK_IMPORTS);
    timings.imported = now();
    if (cache !== null) {
      try {
        const bytes = pyodide.makeMemorySnapshot();
        timings.snapshot = now();
        snapshot = "made";
        // Writing 30 MB to Cache Storage would compete with the page's own start (its registration...).
        snapshotSaved = whenIdle(500).then(() => saveSnapshot(cache, snapshotKey, bytes));
      } catch (error) {
        console.warn("twochat: no Python snapshot this time:", error);
      } finally {
        // A snapshot-making interpreter reaches JavaScript's globals through a recording proxy (that is
        // how the snapshot can name them), which breaks DOM setters; the page gets the real globalThis.
        pyodide.registerJsModule("js", globalThis);
        pyodide.runPython("import sys\nsys.modules.pop('js', None)");
      }
    }
  } else {
    timings.python = now();
  }
  if (pyscriptZip !== null) {
    // PyScript's package, compiled by build.py from the very files PyScript's standard-library step writes,
    // is found first and compiles nothing (twochat-pyodide.mjs runs that step as `import pyscript`).
    pyodide.FS.writeFile(bundle.pyscript_path, new Uint8Array(await pyscriptZip));
    pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(bundle.pyscript_path)})`);
  }
  timings.sdk = now();
  // Installing the worker copies the runtime into Cache Storage: later, not during the page's own start.
  if (options.serviceWorker ?? true) whenIdle(2000).then(() => registerServiceWorker(site));
  return { pyodide, buildInfo, snapshot, snapshotSaved, timings };
}
