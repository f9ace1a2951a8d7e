// The service worker of the twochat-voice-web site: a returning visitor's Python runtime never touches the
// network.
//
// Registered by scripts/twochat-start.mjs (behind PyScript pages too: scripts/twochat-pyodide.mjs) once
// Python is up (so that its downloads never compete with the first visit's own). At install it copies the
// runtime into Cache Storage - the Pyodide files and the Python bundle named by build-info.json, all
// content-addressed or versioned, i.e. immutable; right after a first visit they come from the HTTP cache,
// not the network.
//
// Then the runtime is served from that cache:
//  - with Chromium's static routing API (InstallEvent.addRoutes), without even starting this worker:
//    runtime files from the cache, and every other request (pages, build-info.json, the token, the SIP
//    credentials, the test pages...) straight to the network;
//  - elsewhere by the fetch handler below, cache first for the runtime and hands-off for the rest.
// Nothing else is cached: HTML and configuration keep their HTTP revalidation. build.py stamps the build id
// at the end of this file, so every new build installs the worker again: it copies the new runtime (each
// file revalidated, so an unchanged one costs a 304) and drops every file of older builds. A runtime file
// missing from the cache (a build newer than the worker) is fetched from the network as usual.

const CACHE = "twochat-runtime-v1";
const SCOPE = new URL(self.registration.scope);
const RUNTIME_PREFIX = SCOPE.pathname + "pyodide/";
// Files under pyodide/ that may change without their name changing, hence never served from here.
const NOT_IMMUTABLE = new Set(["pyodide-lock.json", "package.json"]);

function isRuntime(url) {
  if (url.origin !== SCOPE.origin || !url.pathname.startsWith(RUNTIME_PREFIX)) return false;
  const name = url.pathname.slice(RUNTIME_PREFIX.length);
  return name !== "" && !name.includes("/") && !NOT_IMMUTABLE.has(name);
}

async function runtimeFiles() {
  const response = await fetch(new URL("build-info.json", SCOPE), { cache: "no-cache" });
  if (!response.ok) throw new Error(`build-info.json: HTTP ${response.status}`);
  const info = await response.json();
  const files = ["pyodide/pyodide.mjs", "pyodide/pyodide.asm.mjs", "pyodide/pyodide.asm.wasm"];
  const bundle = info.python_bundle;
  if (bundle) files.push(...[bundle.stdlib_url, bundle.sdk_url, bundle.pyscript_url].filter(Boolean));
  return files.map((file) => new URL(file, SCOPE).href);
}

/** Copy the current runtime into the cache (revalidating each file) and drop every other file. */
async function refresh(cache, files) {
  await cache.addAll(files.map((file) => new Request(file, { cache: "no-cache" })));
  const current = new Set(files);
  for (const request of await cache.keys()) {
    if (!current.has(request.url)) await cache.delete(request);
  }
}

/** Drop cached copies of other builds' bundles (same name up to the content hash). */
async function pruneBundles(cache, keep) {
  const kept = new Set(keep);
  const family = (href) => new URL(href).pathname.replace(/-[0-9a-f]{16}\.zip$/, "");
  const families = new Set(keep.filter((href) => /-[0-9a-f]{16}\.zip$/.test(href)).map(family));
  for (const request of await cache.keys()) {
    if (!kept.has(request.url) && families.has(family(request.url))) await cache.delete(request);
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    if (event.addRoutes) {
      const runtime = new URLPattern({ origin: SCOPE.origin, pathname: RUNTIME_PREFIX + "*" });
      await event.addRoutes([
        { condition: { requestMode: "navigate" }, source: "network" },
        { condition: { urlPattern: runtime, requestMethod: "GET" }, source: { cacheName: CACHE } },
        { condition: { not: { urlPattern: runtime } }, source: "network" },
      ]).catch((error) => console.warn("twochat sw: static routes not installed:", error));
    }
    await refresh(await caches.open(CACHE), await runtimeFiles());
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("twochat-runtime-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (!isRuntime(url)) return; // the browser fetches it as if there were no worker
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(request, { ignoreVary: true, ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(request);
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      event.waitUntil(cache.put(request, copy).then(() => pruneBundles(cache, [request.url])));
    }
    return response;
  })());
});
