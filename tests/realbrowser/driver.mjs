// Drives Debian's Chromium (CDP over a pipe) or Firefox ESR (WebDriver BiDi) with puppeteer-core, for the
// real-browser tier (tests/realbrowser). It runs *inside* the tier's network namespace (started with
// `ip netns exec`), so the browsers, their pages and every `fetch` it makes stay in that namespace.
//
// Protocol: one JSON object per line on stdin, {id, op, ...args}; one JSON object per line on stdout,
// {id, ok: true, result} or {id, ok: false, error}. Nothing else is written to stdout (logs go to stderr).
//
// Ops:
//   launch {engine: "chromium"|"firefox", executable, profile?}  -> {version}  (profile: a user-data
//          directory kept between launches, for warm starts; none: a fresh temporary profile)
//   open {url}                                               -> {page}      (a new tab, guarded)
//   click {page, selector}          (waits until visible and enabled; a trusted click)
//   select {page, selector, value}
//   fill {page, selector, value}
//   wait {page, expression, timeout_ms}                      -> the truthy value (JSON)
//   evaluate {page, expression}                              -> the value (JSON); a thenable is awaited
//   guard {page}                                             -> {page_errors, foreign_requests, console}
//   activity {page}                                          -> what the main thread does over one second
//          (Chromium; answered even by a page stuck in a script): {script_ms_per_s, task_ms_per_s, ...}
//   fetch {url, method, body}                                -> {status, body (parsed JSON or text)}
//   close_page {page};  quit_browser (the driver stays, for another launch);  quit
//
// The guard: every request a page makes whose host is not loopback or a TEST-NET-2 address of the
// namespace (198.51.100.0/24) is recorded as foreign; every `pageerror` is recorded. The test fails on either.
import puppeteer from "puppeteer-core";
import { createInterface } from "node:readline";

const CHROMIUM_ARGS = [
  "--no-sandbox", // root in CI
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  // The microphone: a fake device (a beep) and no permission prompt. No WebRTC test flag: in particular
  // no --allow-loopback-in-peer-connection, so Chromium offers what it offers a user.
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
];
const FIREFOX_PREFS = {
  // The microphone: Firefox's fake stream (a tone) and no permission prompt. Nothing about ICE.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
};

let browser = null;
const pages = new Map();
let nextPage = 1;

function allowedHost(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (["data:", "blob:", "about:"].includes(parsed.protocol)) return true;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host.startsWith("127.") || host === "::1" || host.startsWith("198.51.100.");
}

function pageOf(id) {
  const entry = pages.get(id);
  if (!entry) throw new Error(`no page ${id}`);
  return entry;
}

// A person clicks in the tab they look at: bring it to the front first (a background tab runs no
// animation frames, and puppeteer's locators wait for one to see the element stable).
let front = null;
async function frontPage(id) {
  const entry = pageOf(id);
  if (front !== id) {
    await entry.page.bringToFront();
    front = id;
  }
  return entry.page;
}

async function launch({ engine, executable, profile, log }) {
  if (browser) throw new Error("a browser is already running");
  const userDataDir = profile ? { userDataDir: profile } : {};
  if (engine === "chromium") {
    // log: Chromium's own log file (renderer crashes, hangs and errors a page never sees)
    const logging = log ? ["--enable-logging", `--log-file=${log}`, "--v=0"] : [];
    browser = await puppeteer.launch({
      browser: "chrome",
      executablePath: executable,
      headless: true,
      pipe: true,
      args: [...CHROMIUM_ARGS, ...logging],
      ...userDataDir,
    });
  } else if (engine === "firefox") {
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: executable,
      headless: true,
      protocol: "webDriverBiDi",
      extraPrefsFirefox: FIREFOX_PREFS,
      ...userDataDir,
    });
  } else {
    throw new Error(`unknown engine ${engine}`);
  }
  return { version: await browser.version() };
}

async function open({ url }) {
  const page = await browser.newPage();
  const entry = { page, errors: [], foreign: [], console: [] };
  page.on("pageerror", (error) => entry.errors.push(String(error && error.stack ? error.stack : error)));
  // the tab's renderer crashed: a page error like any other (the test fails and says so)
  page.on("error", (error) => entry.errors.push(`the page crashed: ${error}`));
  page.on("request", (request) => {
    if (!allowedHost(request.url())) entry.foreign.push(request.url());
  });
  page.on("console", (message) => {
    entry.console.push(`${message.type()}: ${message.text()}`);
    if (entry.console.length > 400) entry.console.shift();
  });
  page.setDefaultTimeout(60_000);
  if (browser.protocol === "cdp") {
    // Chromium: a CDP session of our own for the activity op (Performance.enable only counts)
    entry.metrics = await page.createCDPSession();
    await entry.metrics.send("Performance.enable");
  }
  const id = nextPage++;
  pages.set(id, entry);
  front = id;
  await page.goto(url, { waitUntil: "load" });
  return { page: id };
}

async function wait({ page, expression, timeout_ms }) {
  const handle = await pageOf(page).page.waitForFunction(expression, { timeout: timeout_ms, polling: 100 });
  const value = await handle.jsonValue();
  await handle.dispose();
  return value;
}

const ops = {
  launch,
  open,
  async click({ page, selector }) {
    await (await frontPage(page)).locator(selector).click();
    return null;
  },
  async select({ page, selector, value }) {
    const tab = await frontPage(page);
    await tab.locator(selector).wait();
    return await tab.select(selector, value);
  },
  async fill({ page, selector, value }) {
    await (await frontPage(page)).locator(selector).fill(value);
    return null;
  },
  wait,
  async evaluate({ page, expression }) {
    // through an async function: a thenable (Pyodide's promise of a Python coroutine) is awaited in
    // every engine (WebDriver BiDi awaits only real Promises)
    return await pageOf(page).page.evaluate(`(async () => (${expression}))()`);
  },
  async activity({ page }) {
    // Performance.getMetrics is answered even while the main thread runs a script that never returns;
    // two samples a second apart say whether the page spins in script, runs other tasks or is idle
    const entry = pageOf(page);
    if (!entry.metrics) return null;
    const limit = (promise) =>
      Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("no metrics in 15 s")), 15_000))]);
    const sample = async () =>
      Object.fromEntries((await limit(entry.metrics.send("Performance.getMetrics"))).metrics.map((m) => [m.name, m.value]));
    const first = await sample();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = await sample();
    const delta = (name) => Math.round(((second[name] ?? 0) - (first[name] ?? 0)) * 1000);
    return {
      script_ms_per_s: delta("ScriptDuration"),
      task_ms_per_s: delta("TaskDuration"),
      layout_ms_per_s: delta("LayoutDuration"),
      js_heap_used_bytes: second.JSHeapUsedSize ?? null,
      documents: second.Documents ?? null,
    };
  },
  async guard({ page }) {
    const entry = pageOf(page);
    return { page_errors: entry.errors, foreign_requests: entry.foreign, console: entry.console.slice(-60) };
  },
  async fetch({ url, method, body }) {
    if (!allowedHost(url)) throw new Error(`refusing to fetch ${url}: not in the namespace`);
    const response = await fetch(url, {
      method: method || "GET",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the text as it is
    }
    return { status: response.status, body: parsed };
  },
  async close_page({ page }) {
    const entry = pageOf(page);
    pages.delete(page);
    if (front === page) front = null;
    await entry.page.close();
    return null;
  },
  async quit_browser() {
    if (browser) await browser.close();
    browser = null;
    pages.clear();
    front = null;
    return null;
  },
  async quit() {
    return await ops.quit_browser();
  },
};

// Ops run one after the other, except the two that read a page which may not answer: guard (kept here)
// and activity (through its own CDP session); they answer at once even while an op waits on a hung page.
const UNQUEUED = new Set(["guard", "activity"]);

async function serve(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    process.stdout.write(JSON.stringify({ id: null, ok: false, error: `bad JSON: ${error}` }) + "\n");
    return;
  }
  const { id, op, ...args } = request;
  try {
    if (!(op in ops)) throw new Error(`unknown op ${op}`);
    const result = await ops[op](args);
    process.stdout.write(JSON.stringify({ id, ok: true, result: result ?? null }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, ok: false, error: String(error && error.stack ? error.stack : error) }) + "\n");
  }
  if (op === "quit") process.exit(0);
}

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  let op = null;
  try {
    op = JSON.parse(line).op;
  } catch {
    // serve() answers the bad line
  }
  if (UNQUEUED.has(op)) serve(line);
  else queue = queue.then(() => serve(line));
});
lines.on("close", async () => {
  await queue;
  if (browser) await browser.close().catch(() => {});
  process.exit(0);
});
