// Start-up progress shell for the twochat-voice-web pages (plain JS: it has to run before Python does).
//
// Steps, all timed from navigation start (performance.now()):
//   download  the Pyodide runtime files arrive (pyodide.mjs, pyodide.asm.mjs/.wasm and the Python bundle of
//             the fast start, twochat-stdlib-*.zip and twochat-sdk-*.zip) - observed through Resource Timing,
//             with the bytes of each file (a returning visitor's come from the cache)
//   python    from the last runtime file to PyScript's "py:ready" (wasm compile, CPython start or the memory
//             snapshot restored, the SDK imported: scripts/twochat-pyodide.mjs, PyScript's "interpreter")
//   sdk       Python imports twochat_voice_web (reported by app/boot.py)
//   ready     the page's Python finished starting (reported by app/boot.py)
//
// State for tests and for app code: window.twochat = {ready, error, python, sdk, steps, files}.
// window.twochatBoot is the API that app/boot.py calls: begin(step), done(step, detail),
// ready(info), fail(message).
(() => {
  "use strict";
  const STEPS = ["download", "python", "sdk", "ready"];
  // Runtime files by name; the bundle's names end with a content hash (twochat-sdk-<hash>.zip).
  const RUNTIME_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "twochat-stdlib", "twochat-sdk"];
  const runtimeName = (name) => RUNTIME_FILES.find((file) => name === file || name.startsWith(file + "-"));
  const now = () => Math.round(performance.now());
  const state = {
    ready: false, error: null, python: null, sdk: null,
    steps: Object.fromEntries(STEPS.map((name) => [name, { status: "pending", start: null, end: null,
                                                           detail: "" }])),
    files: {},
  };
  window.twochat = state;

  const formatBytes = (n) => (n >= 1e6 ? (n / 1e6).toFixed(1) + " MB" : n >= 1e3 ? Math.round(n / 1e3) + " kB"
                                                                      : n + " B");

  function render(name) {
    const row = document.querySelector(`[data-boot-step="${name}"]`);
    if (!row) return;
    const step = state.steps[name];
    row.dataset.status = step.status;
    const time = row.querySelector(".boot-time");
    if (time) {
      // Each step shows its own duration; "ready" shows the total since navigation start.
      time.textContent = step.end === null ? (step.start !== null ? "…" : "")
                       : name === "ready" ? `${step.end} ms total` : `${step.end - (step.start ?? 0)} ms`;
    }
    const detail = row.querySelector(".boot-detail");
    if (detail) detail.textContent = step.detail;
  }

  function begin(name, at = now()) {
    const step = state.steps[name];
    if (step.status !== "pending") return;
    step.status = "running";
    step.start = at;
    render(name);
  }

  function done(name, detail = "", at = now()) {
    const step = state.steps[name];
    if (step.status === "done" || step.status === "failed") return;
    if (step.start === null) step.start = at;
    step.status = "done";
    step.end = at;
    if (detail) step.detail = detail;
    render(name);
  }

  function fail(message) {
    if (state.error) return;
    state.error = String(message);
    for (const name of STEPS) {
      const step = state.steps[name];
      if (step.status === "running" || step.status === "pending") {
        step.status = step.status === "running" ? "failed" : "skipped";
        render(name);
      }
    }
    const status = document.getElementById("status");
    if (status) {
      status.dataset.level = "error";
      status.textContent = "Start-up failed: " + state.error;
    }
    window.dispatchEvent(new CustomEvent("twochat:error", { detail: state.error }));
  }

  function ready(info) {
    const details = info && typeof info.toJs === "function" ? info.toJs({ dict_converter: Object.fromEntries })
                                                              : info || {};
    state.python = details.python ?? null;
    state.sdk = details.sdk ?? null;
    begin("ready");
    const pythonShort = String(state.python || "").split(" ")[0];
    done("ready", `Python ${pythonShort} · twochat_voice_web ${state.sdk}`);
    state.ready = true;
    document.documentElement.dataset.twochat = "ready";
    window.dispatchEvent(new CustomEvent("twochat:ready", { detail: { python: state.python, sdk: state.sdk } }));
  }

  // --- download: Resource Timing entries of the runtime files --------------------------------------
  function renderFiles() {
    const list = document.getElementById("boot-files");
    if (!list) return;
    list.replaceChildren(...Object.entries(state.files).map(([name, file]) => {
      const item = document.createElement("li");
      const size = file.fromCache ? "from cache" : formatBytes(file.transferred);
      item.textContent = `${name} — ${size} — ${file.duration} ms`;
      return item;
    }));
  }

  function onResource(entry) {
    const path = new URL(entry.name, location.href).pathname;
    const name = path.split("/").pop();
    const interesting = path.includes("/pyodide/") || path.endsWith("pyscript.json");
    if (!interesting) return;
    state.files[name] = {
      transferred: entry.transferSize,
      encoded: entry.encodedBodySize,
      decoded: entry.decodedBodySize,
      fromCache: entry.transferSize === 0 && entry.decodedBodySize > 0,
      duration: Math.round(entry.duration),
      end: Math.round(entry.responseEnd),
    };
    renderFiles();
    const download = state.steps.download;
    if (download.status === "pending") begin("download", 0);
    const runtime = Object.entries(state.files).filter(([file]) => runtimeName(file));
    const total = runtime.reduce((sum, [, file]) => sum + file.transferred, 0);
    const arrived = new Set(runtime.map(([file]) => runtimeName(file)));
    download.detail = `${arrived.size}/${RUNTIME_FILES.length} files, ${formatBytes(total)} transferred`;
    render("download");
    // pyodide.mjs comes early; the step ends with the last big file.
    if (arrived.size === RUNTIME_FILES.length) {
      const end = Math.max(...runtime.map(([, file]) => file.end));
      done("download", download.detail, end);
      begin("python", end);
    }
  }

  if ("PerformanceObserver" in window) {
    new PerformanceObserver((list) => list.getEntries().forEach(onResource))
      .observe({ type: "resource", buffered: true });
  }

  // --- python: PyScript's events --------------------------------------------------------------------
  addEventListener("py:ready", () => {
    if (state.steps.download.status !== "done") done("download");
    begin("python");
    const started = window.twochatStart;
    const from = started && started.snapshot === "restored" ? "restored from the snapshot" : "started";
    done("python", `interpreter ${from}, SDK bundle loaded`);
    state.snapshot = started ? started.snapshot : null;
    begin("sdk");
  });

  // --- failures before Python can report them --------------------------------------------------------
  addEventListener("error", (event) => { if (!state.ready) fail(event.message || event.error || "error"); });
  addEventListener("unhandledrejection", (event) => {
    if (!state.ready) fail(event.reason && event.reason.message ? event.reason.message : event.reason);
  });

  window.twochatBoot = { begin, done, ready, fail, state };
  document.addEventListener("DOMContentLoaded", () => {
    STEPS.forEach(render);
    begin("download", 0);
  });
})();
