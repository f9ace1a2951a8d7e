/**
 * twochat-voice.js — the `@2chat/voice-sdk` API for JavaScript apps, running on twochat-voice-web.
 *
 * Drop-in for the 2Chat JS SDK:
 *
 *   import TwoChatVoice from "/twochat-voice.js";      // or: <script src="/twochat-voice.global.js">
 *   const device = new TwoChatVoice.Device({ token, logLevel: "info" });   // usable at once
 *   device.on("incoming", (call) => call.accept());
 *   await device.register();
 *   const call = await device.connect({ to: "+15551234567" });
 *
 * Behind the API is the Python SDK (twochat_voice_web) in Pyodide, started by the site's fast start
 * (`scripts/twochat-start.mjs`: the Python bundle named by `<base>/build-info.json`, the memory snapshot
 * of a returning visitor, the service worker), where <base> is the directory of this file (or
 * `load({baseUrl})`). Loading starts as soon as this module runs (unless it was imported as
 * `twochat-voice.js?autoload=0`); `new Device()` works before it finishes: every method waits.
 *
 * The bridge to Python is `twochat_voice_web.browser.facade` (read its docstring for the protocol): only
 * strings and numbers cross it, so no PyProxy is ever created per Device, Call or event, and every payload
 * an app receives is a plain JavaScript value. Documentation: docs/js-facade.md. ES2020, no third-party
 * dependencies.
 *
 * Formats (build.py): this file is the ES module, served as it is next to scripts/twochat-start.mjs;
 * `twochat-voice.global.js` is the same code bundled by esbuild into one classic script that defines the
 * global `TwoChatVoice` (there `import.meta.url` is the `<script src>` URL); `twochat-voice.d.ts` holds the
 * TypeScript declarations of both.
 */

import { startPython } from "./scripts/twochat-start.mjs";

const MODULE_URL = new URL(import.meta.url);
const DEFAULT_BASE_URL = new URL("./", MODULE_URL).href;
const AUTOLOAD = !["0", "false", "no"].includes(MODULE_URL.searchParams.get("autoload") || "");

/** Device event names (as the Python Device's EVENTS). */
const DEVICE_EVENTS = Object.freeze([
  "destroyed", "deviceChange", "error", "incoming", "incomingRejected", "reconnected", "reconnecting",
  "registered", "registering", "serverChange", "tokenWillExpire", "unregistered",
]);
/** Call event names (as the Python Call's EVENTS). */
const CALL_EVENTS = Object.freeze([
  "accepted", "cancel", "disconnect", "dtmf", "error", "failed", "hold", "mute", "reconnected",
  "reconnecting", "reject", "remote-hold", "ringing", "sample", "volume", "warning", "warning-cleared",
]);

const INTERNAL = Symbol("twochat-voice internal");

// ------------------------------------------------------------------------------------------------ errors

/**
 * Every error of the SDK: a stable `code` (see docs/errors.md), a `message`, and the underlying `cause`.
 * Fatal errors reject the awaited promise; the others arrive as `error` events on the Device or Call.
 */
export class VoiceSDKError extends Error {
  /**
   * @param {string} code    e.g. "INVALID_ARGUMENT", "NOT_REGISTERED", "TOKEN_EXPIRED"
   * @param {string} message for a person
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message);
    this.name = "VoiceSDKError";
    Object.defineProperty(this, "code", { value: String(code), enumerable: true });
    if (options && "cause" in options) {
      Object.defineProperty(this, "cause", { value: options.cause, configurable: true, writable: true });
    }
  }

  /** `{name, code, message}`, as the 2Chat SDK's. */
  toJSON() {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/** The SIP server refused the credentials (`AUTH_ERROR`). */
export class AuthError extends VoiceSDKError {
  constructor(code, message, options) { super(code || "AUTH_ERROR", message, options); this.name = "AuthError"; }
}
/** Registration failed (`REGISTRATION_FAILED`, `REGISTER_ERROR`, `NOT_REGISTERED`). */
export class RegistrationError extends VoiceSDKError {
  constructor(code, message, options) {
    super(code || "REGISTRATION_FAILED", message, options);
    this.name = "RegistrationError";
  }
}
/** The token is malformed (`TOKEN_INVALID`) or expired (`TOKEN_EXPIRED`). */
export class TokenError extends VoiceSDKError {
  constructor(code, message, options) { super(code || "TOKEN_INVALID", message, options); this.name = "TokenError"; }
}
/** A microphone or speaker problem (`MEDIA_*`, `OUTPUT_*`). */
export class MediaError extends VoiceSDKError {
  constructor(code, message, options) { super(code || "MEDIA_DEVICE_ERROR", message, options); this.name = "MediaError"; }
}

const ERROR_CLASSES = { VoiceSDKError, AuthError, RegistrationError, TokenError, MediaError };

function errorFromJSON(json) {
  const ErrorClass = ERROR_CLASSES[json.name] || VoiceSDKError;
  return new ErrorClass(json.code, json.message, "cause" in json ? { cause: causeFromJSON(json.cause) } : undefined);
}

function causeFromJSON(cause) {
  if (cause && typeof cause === "object" && typeof cause.message === "string") {
    if (typeof cause.code === "string") return errorFromJSON(cause);
    const error = new Error(cause.message);
    error.name = String(cause.name || "Error");
    return error;
  }
  return cause;
}

function describeError(error) {
  return `${(error && error.name) || "Error"}: ${error && error.message !== undefined ? error.message : error}`;
}

/** An exception thrown out of an app's event listener is reported like one from a DOM event listener. */
function reportListenerError(error) {
  if (typeof reportError === "function") reportError(error);
  else setTimeout(() => { throw error; });
}

// ------------------------------------------------------------------------------------------------ loading

let runtime = null;   // {pyodide, facade, fns, info, tracedBaseline}
let loading = null;   // the Promise of load(), while loading or loaded
let loadConfig = null;

/** `{sdkVersion, pythonVersion, pyodideVersion, loadMs, snapshot}` once loaded, else null (live binding). */
export let info = null;
/** The Pyodide instance once loaded (an escape hatch), else null (live binding). */
export let pyodide = null;

/**
 * Load the runtime (Pyodide, the SDK wheels, the bridge). Called by itself when this module runs; call it
 * first, in the same task as the import, to choose another `baseUrl` (the directory holding `pyodide/`
 * and `build-info.json`). Resolves with `{sdkVersion, pythonVersion, pyodideVersion, loadMs}`; rejects
 * with a VoiceSDKError `LOAD_FAILED` (a later call, or a new Device, tries again with the same options).
 * `snapshot` (default true) and `serviceWorker` (default true) are the fast start's options: start a
 * returning visitor's Python from its memory snapshot, register `<baseUrl>/sw.js` once the page is idle.
 * @param {{baseUrl?: string, traceProxies?: boolean, snapshot?: boolean, serviceWorker?: boolean}} [options]
 *   traceProxies: count PyProxies (debugging)
 */
export function load(options = {}) {
  const base = options.baseUrl || (loadConfig && loadConfig.baseUrl) || DEFAULT_BASE_URL;
  const baseUrl = withSlash(new URL(base, globalThis.location ? location.href : MODULE_URL).href);
  if (loading) {
    if (options.baseUrl !== undefined && baseUrl !== loadConfig.baseUrl) {
      return Promise.reject(new VoiceSDKError("INVALID_STATE", `the SDK is already loaded from ${loadConfig.baseUrl}`));
    }
    return loading;
  }
  const previous = loadConfig || {};
  loadConfig = {
    baseUrl,
    traceProxies: Boolean(options.traceProxies ?? previous.traceProxies),
    snapshot: options.snapshot ?? previous.snapshot ?? true,
    serviceWorker: options.serviceWorker ?? previous.serviceWorker ?? true,
  };
  loading = boot(loadConfig).catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

/** Resolves once the SDK is loaded (starting the load with the defaults if needed), like `load()`. */
export function ready() {
  return load();
}

/** True once the SDK is loaded. */
export function isReady() {
  return runtime !== null;
}

function withSlash(url) {
  return url.endsWith("/") ? url : `${url}/`;
}

function loadFailed(what, error) {
  return new VoiceSDKError("LOAD_FAILED", `${what}: ${describeError(error)}`, { cause: error });
}

async function boot(config) {
  const started = performance.now();
  // The fast start: Pyodide from the Python bundle (bytecode), or from a returning visitor's snapshot,
  // with twochat_voice_web imported.
  let python;
  try {
    python = await startPython({ site: config.baseUrl, snapshot: config.snapshot, serviceWorker: config.serviceWorker });
  } catch (error) {
    throw loadFailed(`could not start Python from ${config.baseUrl}`, error);
  }
  const interpreter = python.pyodide;
  const tracing = config.traceProxies && interpreter._module && interpreter._module.enable_pyproxy_allocation_tracing;
  if (tracing) interpreter._module.enable_pyproxy_allocation_tracing();
  let fns;
  let facade;
  let installed;
  try {
    facade = interpreter.pyimport("twochat_voice_web.browser.facade");
    fns = {
      install: facade.install,
      createDevice: facade.create_device,
      invoke: facade.invoke,
      liveObjects: facade.live_objects,
      stream: facade.stream,
    };
    installed = JSON.parse(fns.install(onPythonEvent, onPythonSettle));
  } catch (error) {
    throw loadFailed("could not import the SDK", error);
  }
  runtime = {
    pyodide: interpreter,
    facade,
    fns,
    tracedBaseline: tracing ? interpreter._module.pyproxy_alloc_map.size : null,
    info: Object.freeze({
      sdkVersion: installed.sdkVersion,
      pythonVersion: installed.python,
      pyodideVersion: interpreter.version,
      loadMs: Math.round(performance.now() - started),
      snapshot: python.snapshot,
    }),
  };
  info = runtime.info;
  pyodide = interpreter;
  return runtime.info;
}

if (AUTOLOAD) {
  // A microtask later: an importer may still call load({baseUrl}) in the same task.
  Promise.resolve().then(() => {
    if (!loading) load().catch((error) => console.error("[twochat-voice]", error));
  });
}

// ------------------------------------------------------------------------------------------------ the bridge

const devices = new Map(); // Device id -> Device
const calls = new Map();   // call id -> Call (until its `disconnect`)
const pending = new Map(); // request id -> {resolve, reject}
let requestCounter = 0;
let deviceCounter = 0;

/** Python -> JS: an event of a Device or Call. Never throws back into Python. */
function onPythonEvent(targetId, event, argsJson, extraJson) {
  try {
    const target = devices.get(targetId) || calls.get(targetId);
    if (!target) return;
    const extra = extraJson ? JSON.parse(extraJson) : {};
    if (extra.final) target._end(extra.final);
    target._dispatch(event, JSON.parse(argsJson).map(revive));
    if (extra.final) calls.delete(targetId);
  } catch (error) {
    reportListenerError(error);
  }
}

/** Python -> JS: the outcome of an asynchronous method. */
function onPythonSettle(requestId, resultJson) {
  const request = pending.get(requestId);
  if (!request) return;
  pending.delete(requestId);
  try {
    const result = JSON.parse(resultJson);
    if ("error" in result) request.reject(errorFromJSON(result.error));
    else request.resolve(revive(result.ok));
  } catch (error) {
    request.reject(internalError(error));
  }
}

function internalError(error) {
  return new VoiceSDKError("INTERNAL_ERROR", `internal error: ${describeError(error)}`, { cause: error });
}

/** Plain values from Python, with `{$call}` turned into Call wrappers and `{$error}` into errors. */
function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === "object") {
    if (value.$call) return callFor(value.$call);
    if (value.$error) return errorFromJSON(value.$error);
    for (const key of Object.keys(value)) value[key] = revive(value[key]);
  }
  return value;
}

function callFor(descriptor) {
  let call = calls.get(descriptor.id);
  if (!call) {
    call = new Call(INTERNAL, descriptor);
    calls.set(descriptor.id, call);
  }
  return call;
}

function argumentsJson(args) {
  try {
    return JSON.stringify(args);
  } catch (error) {
    throw new VoiceSDKError("INVALID_ARGUMENT", `the arguments cannot be converted: ${describeError(error)}`);
  }
}

function invokeSync(targetId, method, args) {
  const out = JSON.parse(runtime.fns.invoke(0, targetId, method, argumentsJson(args)));
  if ("error" in out) throw errorFromJSON(out.error);
  return revive(out.ok);
}

function invokeAsync(targetId, method, args) {
  return new Promise((resolve, reject) => {
    const id = ++requestCounter;
    let out;
    try {
      const text = argumentsJson(args);
      pending.set(id, { resolve, reject });
      out = JSON.parse(runtime.fns.invoke(id, targetId, method, text));
    } catch (error) {
      pending.delete(id);
      reject(error instanceof VoiceSDKError ? error : internalError(error));
      return;
    }
    if (out.pending) return;
    pending.delete(id);
    if ("error" in out) reject(errorFromJSON(out.error));
    else resolve(revive(out.ok));
  });
}

// ------------------------------------------------------------------------------------------------ events

/** EventEmitter-style listeners (`on`, `once`, `off`...), as the 2Chat SDK's Device and Call. */
class Emitter {
  constructor(kind, events) {
    Object.defineProperties(this, {
      _kind: { value: kind },
      _events: { value: new Set(events) },
      _listeners: { value: new Map() },
    });
  }

  /** Call `listener` on every `event`; unknown event names throw (typos are caught early). */
  on(event, listener) {
    this._check(event, listener);
    this._listenersOf(event).push({ listener, once: false });
    return this;
  }

  /** Same as `on`. */
  addListener(event, listener) {
    return this.on(event, listener);
  }

  /** Call `listener` on the next `event` only. */
  once(event, listener) {
    this._check(event, listener);
    this._listenersOf(event).push({ listener, once: true });
    return this;
  }

  /** Remove `listener` (the most recently added copy), or every listener of `event` when omitted. */
  off(event, listener) {
    if (listener === undefined) {
      this._listeners.delete(event);
      return this;
    }
    const list = this._listeners.get(event);
    if (list) {
      for (let index = list.length - 1; index >= 0; index--) {
        if (list[index].listener === listener) {
          list.splice(index, 1);
          break;
        }
      }
    }
    return this;
  }

  /** Same as `off`. */
  removeListener(event, listener) {
    return this.off(event, listener);
  }

  /** Remove every listener of `event`, or of every event. */
  removeAllListeners(event) {
    if (event === undefined) this._listeners.clear();
    else this._listeners.delete(event);
    return this;
  }

  /** How many listeners `event` has (every event when omitted). */
  listenerCount(event) {
    if (event !== undefined) return (this._listeners.get(event) || []).length;
    let count = 0;
    for (const list of this._listeners.values()) count += list.length;
    return count;
  }

  _listenersOf(event) {
    let list = this._listeners.get(event);
    if (!list) {
      list = [];
      this._listeners.set(event, list);
    }
    return list;
  }

  _check(event, listener) {
    if (typeof listener !== "function") {
      throw new VoiceSDKError("INVALID_ARGUMENT", "an event listener must be a function");
    }
    if (!this._events.has(event)) {
      throw new VoiceSDKError("INVALID_ARGUMENT",
        `unknown event ${JSON.stringify(event)}; ${this._kind} emits: ${[...this._events].join(", ")}`);
    }
  }

  _dispatch(event, args) {
    const list = this._listeners.get(event);
    if (!list || list.length === 0) return;
    const snapshot = list.slice();
    if (snapshot.some((entry) => entry.once)) {
      this._listeners.set(event, list.filter((entry) => !entry.once));
    }
    for (const entry of snapshot) {
      try {
        entry.listener.apply(this, args);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ Device

function destroyedError() {
  return new VoiceSDKError("DESTROYED", "this Device was destroyed");
}

/** Wrap the app's credentialsProvider so that it always resolves, with JSON text (see facade.py). */
function wrapProvider(provider) {
  return async (token) => {
    try {
      return JSON.stringify({ ok: await provider(token) });
    } catch (error) {
      return JSON.stringify({ error: { name: (error && error.name) || "Error", message: String(error && error.message !== undefined ? error.message : error) } });
    }
  };
}

/**
 * One registered 2Chat user: `new Device({token, logLevel, allowIncomingWhileBusy, iceServers,
 * media: {inputDeviceId, outputDeviceId}, ringtoneUrl, defaultExtraHeaders, tokenExpiryLeadMs, apiBaseUrl,
 * credentialsProvider, multiTab, ...})`. Usable at once: methods wait for the SDK to load. A bad option is
 * reported by an `error` event and by the rejection of every method (a missing token throws here).
 */
export class Device extends Emitter {
  constructor(options) {
    super("Device", DEVICE_EVENTS);
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new VoiceSDKError("INVALID_ARGUMENT", "new Device(options) takes an object: {token, ...}");
    }
    if (typeof options.token !== "string" || options.token === "") {
      throw new TokenError("TOKEN_INVALID", "options.token must be a non-empty string (the access token)");
    }
    const { credentialsProvider, ...rest } = options;
    if (credentialsProvider != null && typeof credentialsProvider !== "function") {
      throw new VoiceSDKError("INVALID_ARGUMENT", "credentialsProvider must be an async function (token) => credentials");
    }
    const optionsJson = argumentsJson(rest);
    Object.defineProperties(this, {
      _id: { value: `d${++deviceCounter}` },
      _provider: { value: credentialsProvider ? wrapProvider(credentialsProvider) : undefined },
      _token: { value: options.token, writable: true },
      _created: { value: false, writable: true },
      _destroyed: { value: false, writable: true },
      _failure: { value: null, writable: true },
    });
    devices.set(this._id, this);
    let whenCreated;
    if (runtime) {
      this._create(optionsJson);
      whenCreated = Promise.resolve();
    } else {
      whenCreated = load().then(() => this._create(optionsJson), (error) => this._fail(error));
    }
    Object.defineProperty(this, "_ready", { value: whenCreated });
  }

  _create(optionsJson) {
    if (this._destroyed) return;
    const out = JSON.parse(runtime.fns.createDevice(this._id, optionsJson, this._provider));
    if ("error" in out) this._fail(errorFromJSON(out.error));
    else this._created = true;
  }

  _fail(error) {
    this._failure = error;
    devices.delete(this._id);
    if (!this._destroyed) Promise.resolve().then(() => this._dispatch("error", [error]));
  }

  _whenReady() {
    return this._ready.then(() => {
      if (this._destroyed) throw destroyedError();
      if (this._failure) throw this._failure;
    });
  }

  _call(method, args) {
    return this._whenReady().then(() => invokeAsync(this._id, method, args));
  }

  _get(name, fallback) {
    return this._created && !this._destroyed ? invokeSync(this._id, name, []) : fallback;
  }

  /** Fetch the SIP credentials, open the WebSocket and REGISTER; resolves on the registrar's 200. */
  register() {
    return this._call("register", []);
  }

  /** Remove the registration and close the WebSocket. */
  unregister() {
    return this._call("unregister", []);
  }

  /**
   * Place a call: `{to, from?, callerId?, extraHeaders?}`. Resolves with the Call once the INVITE is sent.
   * @returns {Promise<Call>}
   */
  connect(params) {
    return this._call("connect", [params === undefined ? null : params]);
  }

  /** Swap in a fresh token (no re-registration); re-arms `tokenWillExpire`. */
  updateToken(token) {
    return this._call("updateToken", [token === undefined ? null : token]).then(() => { this._token = token; });
  }

  /** Hang up every call, unregister (best effort) and release everything; emits `destroyed`. */
  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    try {
      if (this._created) invokeSync(this._id, "destroy", []); // calls end, `destroyed` is emitted
      else this._dispatch("destroyed", []);
    } finally {
      devices.delete(this._id);
      for (const [id, call] of calls) {
        if (call._deviceId === this._id) {
          call._end(null);
          calls.delete(id);
        }
      }
      this.removeAllListeners();
    }
  }

  /** Microphones and speakers: `[{deviceId, kind, label, groupId}]`. */
  listAudioDevices() {
    return this._call("listAudioDevices", []);
  }

  /** The microphone for new calls, also switching the live ones (`null`: the browser's default). */
  setInputDevice(deviceId) {
    return this._call("setInputDevice", [deviceId === undefined ? null : deviceId]);
  }

  /** The speaker for new calls, the live ones and the SDK's sounds (needs `setSinkId`). */
  setOutputDevice(deviceId) {
    return this._call("setOutputDevice", [deviceId === undefined ? null : deviceId]);
  }

  /** Microphone, ICE reachability and (with `echoNumber`) an echo call graded by MOS. */
  runPreflight(options) {
    return this._call("runPreflight", [options === undefined ? null : options]);
  }

  /** `unregistered`, `registering`, `registered`, `reconnecting` or `destroyed`. */
  get state() {
    return this._destroyed ? "destroyed" : this._get("state", "unregistered");
  }

  /** The live calls. */
  get calls() {
    return this._get("calls", []);
  }

  /** True while a call is accepted (on hold included): a new caller then gets 486 (`incomingRejected`). */
  get isBusy() {
    return this._get("isBusy", false);
  }

  /** The current access token. */
  get token() {
    return this._get("token", this._token);
  }

  /** Our SIP address of record, once registered. */
  get identity() {
    return this._get("identity", null);
  }

  /** Caller IDs from the credentials: `[{uuid, phoneNumber}]`. */
  get callerIds() {
    return this._get("callerIds", []);
  }

  /** The microphone new calls use (`null`: the browser's default). */
  get inputDeviceId() {
    return this._get("inputDeviceId", null);
  }

  /** The signalling server (WebSocket URL) in use; changes on failover (`serverChange`). */
  get wsUrl() {
    return this._get("wsUrl", null);
  }

  /** The speaker new calls use (`null`: the browser's default). */
  get outputDeviceId() {
    return this._get("outputDeviceId", null);
  }

  /** True when this browser can route audio to a chosen speaker (`setSinkId`). */
  get isOutputSelectionSupported() {
    return this._get("isOutputSelectionSupported", typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype);
  }

  /** With `multiTab`: `"leader"`, `"follower"` or `"idle"`; `null` otherwise. */
  get tabRole() {
    return this._get("tabRole", null);
  }
}
Device.EVENTS = DEVICE_EVENTS;

// ------------------------------------------------------------------------------------------------ Call

/**
 * One call. You never build one: `device.connect()` resolves with outbound calls, the Device's `incoming`
 * event delivers inbound ones. After `disconnect` (always its last event) it answers from its final state.
 */
export class Call extends Emitter {
  constructor(key, descriptor) {
    if (key !== INTERNAL) throw new TypeError("Calls come from device.connect() and the Device's 'incoming' event");
    super("Call", CALL_EVENTS);
    Object.defineProperties(this, {
      _id: { value: descriptor.id },
      _deviceId: { value: descriptor.deviceId },
      _final: { value: null, writable: true },
      _volumeWatched: { value: false, writable: true },
    });
    /** `"inbound"` or `"outbound"`. */
    Object.defineProperty(this, "direction", { value: descriptor.direction, enumerable: true });
    /** The far end (number or SIP URI), if known. */
    Object.defineProperty(this, "remoteIdentity", { value: descriptor.remoteIdentity ?? undefined, enumerable: true });
    /** Inbound: the display name of the INVITE's From, when the caller sent one; else `null`. */
    Object.defineProperty(this, "remoteDisplayName", { value: descriptor.remoteDisplayName ?? null, enumerable: true });
    /** Inbound: the INVITE's `X-2Chat-*` headers without the prefix (frozen). */
    Object.defineProperty(this, "customHeaders", { value: Object.freeze({ ...descriptor.customHeaders }), enumerable: true });
  }

  _end(final) {
    if (this._final) return;
    this._final = final || { status: "disconnected", sipCallId: null, timings: {}, muted: false, onHold: false, remoteHold: false, ignored: false };
  }

  _get(name, fromFinal) {
    return this._final ? fromFinal(this._final) : invokeSync(this._id, name, []);
  }

  _sync(method, args) {
    if (this._final) throw new VoiceSDKError("INVALID_STATE", `${method}(): the call has ended`);
    return invokeSync(this._id, method, args);
  }

  _async(method, args) {
    if (this._final) {
      return Promise.reject(new VoiceSDKError("INVALID_STATE", `${method}(): the call has ended`));
    }
    return invokeAsync(this._id, method, args);
  }

  /** The SIP Call-ID. */
  get sipCallId() {
    return this._get("sipCallId", (final) => final.sipCallId);
  }

  /** `pending`, `ringing`, `accepted`, `disconnected` or `failed`. */
  get status() {
    return this.getStatus();
  }

  /** Milestones as epoch milliseconds: created, inviteSent, firstProvisional, answered, confirmed, mediaConnected, ended. */
  get timings() {
    return this._get("timings", (final) => ({ ...final.timings }));
  }

  /** True once the call is disconnected or failed. */
  get ended() {
    return this._get("ended", () => true);
  }

  /** The call-quality warnings currently raised. */
  get activeWarnings() {
    return this._get("activeWarnings", () => []);
  }

  /** True after `ignore()`. */
  get ignored() {
    return this._get("ignored", (final) => final.ignored);
  }

  /** The status (as the 2Chat SDK's `getStatus()`). */
  getStatus() {
    return this._get("getStatus", (final) => final.status);
  }

  /** True while our microphone is muted. */
  isMuted() {
    return this._get("isMuted", (final) => final.muted);
  }

  /** True while we hold the call. */
  isOnHold() {
    return this._get("isOnHold", (final) => final.onHold);
  }

  /** True while the peer holds the call. */
  isRemoteHold() {
    return this._get("isRemoteHold", (final) => final.remoteHold);
  }

  /**
   * Inbound: answer with audio. `options` (all optional) apply to this call over the Device's:
   * `{codecPreferences: ["opus", "PCMU"], maxAverageBitrate, dtx, rtcConfiguration}`.
   */
  accept(options) {
    return this._async("accept", [options === undefined ? null : options]);
  }

  /** Listen to `event`; the first `volume` listener starts the level meter (100 ms) for this call. */
  on(event, listener) {
    super.on(event, listener);
    this._watch(event);
    return this;
  }

  /** Listen to the next `event` only. */
  once(event, listener) {
    super.once(event, listener);
    this._watch(event);
    return this;
  }

  _watch(event) {
    if (event === "volume" && !this._final && !this._volumeWatched) {
      this._volumeWatched = true;
      invokeSync(this._id, "watch", ["volume"]);
    }
  }

  /** The MediaStream this call sends (the microphone); undefined before the call has media. */
  getLocalStream() {
    return this._stream("local");
  }

  /** The MediaStream of the far end's audio; undefined before the call has media. */
  getRemoteStream() {
    return this._stream("remote");
  }

  _stream(which) {
    const name = which === "local" ? "getLocalStream" : "getRemoteStream";
    if (this._final) throw new VoiceSDKError("INVALID_STATE", `${name}(): the call has ended`);
    const out = runtime.fns.stream(this._id, which);
    if (typeof out === "string") throw errorFromJSON(JSON.parse(out).error);
    return out ?? undefined;
  }

  /** Inbound: reject with a SIP status (486 Busy Here by default; 603 Decline). */
  reject(statusCode = 486) {
    this._sync("reject", [statusCode]);
  }

  /** Inbound: stop the ringtone here without answering (the call keeps ringing elsewhere). */
  ignore() {
    this._sync("ignore", []);
  }

  /** Hang up (CANCEL, 603 or BYE as fits); resolves when the call has ended. */
  disconnect() {
    return this._final ? Promise.resolve() : invokeAsync(this._id, "disconnect", []);
  }

  /** Mute (true, the default) or unmute (false) the microphone; emits `mute`. */
  mute(shouldMute = true) {
    this._sync("mute", [shouldMute]);
  }

  /** Hold (true, the default) or resume (false) with a re-INVITE; emits `hold`. */
  hold(shouldHold = true) {
    return this._async("hold", [shouldHold]);
  }

  /** Send DTMF: 0-9 * # A-D (w: 0.5 s pause, `,`: 2 s). */
  sendDigits(digits) {
    this._sync("sendDigits", [digits === undefined ? null : digits]);
  }

  /** Switch the microphone mid-call. */
  setInputDevice(deviceId) {
    return this._async("setInputDevice", [deviceId === undefined ? null : deviceId]);
  }

  /** Switch the speaker mid-call (needs `setSinkId`). */
  setOutputDevice(deviceId) {
    return this._async("setOutputDevice", [deviceId === undefined ? null : deviceId]);
  }

  /** A summary of the media statistics (plus `raw`: every RTCStats report). */
  getStats() {
    return this._final ? Promise.resolve({}) : invokeAsync(this._id, "getStats", []);
  }
}
Call.EVENTS = CALL_EVENTS;

// ------------------------------------------------------------------------------------------------ debugging

/**
 * What is still alive (debugging and tests): `platformProxies` (the Python platform's JS proxies),
 * `pyProxies` (PyProxies alive since loading; `null` unless loaded with `traceProxies: true`), `devices`
 * and `calls` held by the Python bridge, `tasks` it runs, and this module's `wrappers` and `pending`
 * requests. All of them return to 0 once every Device is destroyed.
 */
export function liveObjects() {
  if (!runtime) return null;
  const python = JSON.parse(runtime.fns.liveObjects());
  const map = runtime.tracedBaseline === null ? null : runtime.pyodide._module.pyproxy_alloc_map;
  return {
    ...python,
    pyProxies: map ? map.size - runtime.tracedBaseline : null,
    wrappers: { devices: devices.size, calls: calls.size },
    pending: pending.size,
  };
}

const TwoChatVoice = Object.freeze({
  Device,
  Call,
  VoiceSDKError,
  AuthError,
  RegistrationError,
  TokenError,
  MediaError,
  load,
  ready,
  isReady,
  liveObjects,
  /** The Pyodide instance once loaded (an escape hatch), else null. */
  get pyodide() {
    return runtime ? runtime.pyodide : null;
  },
  /** `{sdkVersion, pythonVersion, pyodideVersion, loadMs, snapshot}` once loaded, else null. */
  get info() {
    return runtime ? runtime.info : null;
  },
});

if (!globalThis.TwoChatVoice) globalThis.TwoChatVoice = TwoChatVoice;

export default TwoChatVoice;
