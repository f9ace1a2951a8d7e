/**
 * TypeScript declarations of twochat-voice.js (the ES module) and twochat-voice.global.js (the classic
 * script that defines the global `TwoChatVoice`): the `@2chat/voice-sdk` API running on twochat-voice-web.
 * Documentation: docs/js-facade.md. Checked by `tsc --noEmit` over tests/typescript/ (its example and the
 * members the built files define at run time) in tests/browser/test_js_facade_builds.py.
 *
 *   import TwoChatVoice, { Device, VoiceSDKError } from "./twochat-voice.js";   // an ES module
 *   /// <reference path="./twochat-voice.d.ts" />  then  new TwoChatVoice.Device({token})   // a classic script
 */

export as namespace TwoChatVoice;

// ------------------------------------------------------------------------------------------------ errors

/** `{name, code, message}`, as `VoiceSDKError.toJSON()` returns it. */
export interface VoiceSDKErrorJSON {
  name: string;
  code: string;
  message: string;
}

/** Every error of the SDK: a stable `code` (docs/errors.md), a `message` and the underlying `cause`. */
export class VoiceSDKError extends Error {
  constructor(code: string, message: string, options?: { cause?: unknown });
  /** e.g. `"INVALID_ARGUMENT"`, `"NOT_REGISTERED"`, `"TOKEN_EXPIRED"`, `"LOAD_FAILED"`. */
  readonly code: string;
  /** An HTTP or SIP status, a nested `VoiceSDKError`, or an `Error` named after the Python exception. */
  cause?: unknown;
  toJSON(): VoiceSDKErrorJSON;
}
/** The SIP server refused the credentials (`AUTH_ERROR`). */
export class AuthError extends VoiceSDKError {
  constructor(code?: string, message?: string, options?: { cause?: unknown });
}
/** Registration failed (`REGISTRATION_FAILED`, `REGISTER_ERROR`, `NOT_REGISTERED`). */
export class RegistrationError extends VoiceSDKError {
  constructor(code?: string, message?: string, options?: { cause?: unknown });
}
/** The token is malformed (`TOKEN_INVALID`) or expired (`TOKEN_EXPIRED`). */
export class TokenError extends VoiceSDKError {
  constructor(code?: string, message?: string, options?: { cause?: unknown });
}
/** A microphone or speaker problem (`MEDIA_*`, `OUTPUT_*`). */
export class MediaError extends VoiceSDKError {
  constructor(code?: string, message?: string, options?: { cause?: unknown });
}

// ------------------------------------------------------------------------------------------------ values

/** A STUN or TURN server, as WebRTC's `RTCIceServer`. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** The credentials a `credentialsProvider` resolves with (snake_case keys are accepted too). */
export interface SipCredentials {
  wsUrl: string;
  sipUri: string;
  username: string;
  password: string;
  realm?: string;
  displayName?: string;
  iceServers?: IceServer[];
  callerIds?: CallerId[];
  [key: string]: unknown;
}

export interface CallerId {
  uuid: string;
  phoneNumber: string;
}

export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";
export type SoundName =
  | "incoming" | "outgoing" | "disconnect" | "dtmfs" | "dtmfh"
  | "dtmf0" | "dtmf1" | "dtmf2" | "dtmf3" | "dtmf4" | "dtmf5" | "dtmf6" | "dtmf7" | "dtmf8" | "dtmf9"
  | "dtmfa" | "dtmfb" | "dtmfc" | "dtmfd";

/** `new Device(options)`: the 2Chat options and the Python SDK's extras (docs/js-facade.md#device). */
export interface DeviceOptions {
  token: string;
  logLevel?: LogLevel;
  allowIncomingWhileBusy?: boolean;
  iceServers?: IceServer[];
  media?: { inputDeviceId?: string | null; outputDeviceId?: string | null };
  ringtoneUrl?: string;
  defaultExtraHeaders?: string[];
  tokenExpiryLeadMs?: number;
  apiBaseUrl?: string;
  credentialsProvider?: (token: string) => Promise<SipCredentials> | SipCredentials;
  iceGatheringTimeoutMs?: number;
  iceGathering?: "fast" | "complete";
  dtmfTransport?: "rfc4733" | "info";
  sounds?: Partial<Record<SoundName, string | false>>;
  /** The tabs of one user (or of the named group) elect one leader that registers (docs/multi-tab.md). */
  multiTab?: boolean | string;
  credentialsPath?: string;
  registerTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  reconnectMaxDelayMs?: number;
  reconnectMaxAttempts?: number | null;
  reconnectGraceMs?: number;
  registerExpires?: number;
  /** Codec order for the SDP we send (docs/device.md#codecs-and-media-options); none is dropped. */
  codecPreferences?: CodecName[];
  /** Opus `maxaveragebitrate` asked of the far end, 6000 to 510000 bit/s. */
  maxAverageBitrate?: number | null;
  /** Opus discontinuous transmission asked of the far end. */
  dtx?: boolean | null;
  /** Ask before the page is left during a call (as Twilio's `closeProtection`). */
  closeProtection?: boolean;
}

/** A codec name for `codecPreferences`. */
export type CodecName = "opus" | "PCMU" | "PCMA";

/** Per-call media options: they apply to this call over the Device's. */
export interface CallMediaOptions {
  codecPreferences?: CodecName[];
  maxAverageBitrate?: number | null;
  dtx?: boolean | null;
  /** An `RTCConfiguration` for this call's peer connection (e.g. `{iceServers: [...]}`). */
  rtcConfiguration?: RTCConfiguration;
}

export interface ConnectParams extends CallMediaOptions {
  to: string;
  from?: string;
  callerId?: string;
  extraHeaders?: string[];
}

export interface PreflightOptions {
  /** A number that echoes (the sandbox's is `+15550100`): also place a graded call to it. */
  echoNumber?: string;
  /** The echo call's length, 1 to 60 seconds (default 5). */
  callSeconds?: number;
}

/** What `runPreflight()` found; a failing check is reported here, never thrown. */
export interface PreflightReport {
  ok: boolean;
  microphoneOk: boolean;
  microphoneLabel: string | null;
  microphoneError: string | null;
  iceOk: boolean;
  candidateTypes: string[];
  stunReachable: boolean;
  turnReachable: boolean;
  gatheringMs: number | null;
  iceError: string | null;
  callRan: boolean;
  callOk: boolean;
  callError: string | null;
  mos: number | null;
  quality: string | null;
  rttMs: number | null;
  jitterMs: number | null;
  packetLoss: number | null;
  audioReceived: boolean;
  microphoneLevel: number | null;
  warnings: string[];
  durationMs: number;
}

/** One microphone or speaker, as `listAudioDevices()` lists it. */
export interface AudioDeviceInfo {
  deviceId: string;
  kind: "audioinput" | "audiooutput";
  label: string;
  groupId: string;
}

export type DeviceState = "unregistered" | "registering" | "registered" | "reconnecting" | "destroyed";
export type CallStatus = "pending" | "ringing" | "accepted" | "disconnected" | "failed";
export type TabRole = "leader" | "follower" | "idle";

/** Milestones as epoch milliseconds. */
export interface CallTimings {
  created?: number;
  inviteSent?: number;
  firstProvisional?: number;
  answered?: number;
  confirmed?: number;
  mediaConnected?: number;
  ended?: number;
}

export interface DisconnectInfo {
  reason: string;
  statusCode: number | null;
}

export interface IncomingRejectedInfo {
  reason: string;
  statusCode: number;
  remoteIdentity: string;
  remoteDisplayName: string | null;
  customHeaders: Record<string, string>;
  sipCallId: string;
}

export interface CallQualityWarning {
  name: string;
  raised: boolean;
  value: number | null;
  threshold: number | null;
  timestamp: number;
}

/** A media sample (every second): `rttMs`, `jitterMs`, `mos`, byte and packet counters... */
export interface CallSample {
  timestamp: number;
  rttMs: number | null;
  jitterMs: number | null;
  packetsLostFraction: number | null;
  mos: number | null;
  audioInputLevel: number | null;
  audioOutputLevel: number | null;
  bytesReceived: number;
  [key: string]: unknown;
}

/** `{sdkVersion, pythonVersion, pyodideVersion, loadMs, snapshot}`, once loaded. */
export interface LoadInfo {
  readonly sdkVersion: string;
  readonly pythonVersion: string;
  readonly pyodideVersion: string;
  readonly loadMs: number;
  /** `"restored"`: Python started from this browser's memory snapshot; `"made"`: one was taken; `"off"`. */
  readonly snapshot: "restored" | "made" | "off";
}

export interface LoadOptions {
  /** The directory holding `build-info.json`, `pyodide/` and `scripts/` (default: this file's). */
  baseUrl?: string;
  /** Count PyProxies (debugging; `liveObjects().pyProxies`). */
  traceProxies?: boolean;
  /** Start a returning visitor's Python from its memory snapshot (default true). */
  snapshot?: boolean;
  /** Register `<baseUrl>/sw.js` once the page is idle (default true). */
  serviceWorker?: boolean;
}

export interface LiveObjects {
  platformProxies: number;
  pyProxies: number | null;
  devices: number;
  calls: number;
  tasks: number;
  wrappers: { devices: number; calls: number };
  pending: number;
}

// ------------------------------------------------------------------------------------------------ events

export interface DeviceEventMap {
  destroyed: () => void;
  deviceChange: () => void;
  error: (error: VoiceSDKError) => void;
  incoming: (call: Call) => void;
  incomingRejected: (info: IncomingRejectedInfo) => void;
  reconnected: () => void;
  reconnecting: (info: { reason: string }) => void;
  registered: () => void;
  registering: () => void;
  /** The signalling server changed (failover): the new and the previous WebSocket URL. */
  serverChange: (info: { wsUrl: string; previous: string | null }) => void;
  tokenWillExpire: () => void;
  unregistered: () => void;
}

export interface CallEventMap {
  accepted: () => void;
  cancel: () => void;
  disconnect: (info: DisconnectInfo) => void;
  dtmf: (info: { digit: string; transport: string }) => void;
  error: (error: VoiceSDKError) => void;
  failed: (info: DisconnectInfo) => void;
  hold: (onHold: boolean) => void;
  mute: (muted: boolean) => void;
  reconnected: () => void;
  reconnecting: () => void;
  reject: () => void;
  "remote-hold": (onHold: boolean) => void;
  ringing: (info: { hasEarlyMedia: boolean }) => void;
  sample: (sample: CallSample) => void;
  /** Input and output audio level, 0 to 1, every 100 ms while listened to. */
  volume: (inputVolume: number, outputVolume: number) => void;
  warning: (name: string, warning: CallQualityWarning) => void;
  "warning-cleared": (name: string, warning: CallQualityWarning) => void;
}

/** EventEmitter-style listeners; an unknown event name throws `INVALID_ARGUMENT`. */
declare class Emitter<Events> {
  on<E extends keyof Events>(event: E, listener: Events[E]): this;
  addListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  once<E extends keyof Events>(event: E, listener: Events[E]): this;
  off<E extends keyof Events>(event: E, listener?: Events[E]): this;
  removeListener<E extends keyof Events>(event: E, listener?: Events[E]): this;
  removeAllListeners(event?: keyof Events): this;
  listenerCount(event?: keyof Events): number;
}

// ------------------------------------------------------------------------------------------------ Device

/** One registered 2Chat user. Usable at once: methods wait for the SDK to load. */
export class Device extends Emitter<DeviceEventMap> {
  /** Throws `TokenError` for a missing token; any other bad option rejects every method. */
  constructor(options: DeviceOptions);
  static readonly EVENTS: readonly (keyof DeviceEventMap)[];
  register(): Promise<void>;
  unregister(): Promise<void>;
  /** Resolves with the Call once the INVITE is sent (not when answered). */
  connect(params: ConnectParams): Promise<Call>;
  updateToken(token: string): Promise<void>;
  destroy(): void;
  listAudioDevices(): Promise<AudioDeviceInfo[]>;
  setInputDevice(deviceId: string | null): Promise<void>;
  setOutputDevice(deviceId: string): Promise<void>;
  runPreflight(options?: PreflightOptions): Promise<PreflightReport>;
  readonly state: DeviceState;
  readonly calls: Call[];
  readonly isBusy: boolean;
  readonly token: string;
  readonly identity: string | null;
  readonly callerIds: CallerId[];
  readonly inputDeviceId: string | null;
  readonly outputDeviceId: string | null;
  readonly isOutputSelectionSupported: boolean;
  /** With `multiTab`: this tab's role; `null` otherwise. */
  readonly tabRole: TabRole | null;
  /** The signalling server (WebSocket URL) in use; changes on failover (`serverChange`). */
  readonly wsUrl: string | null;
}

// ------------------------------------------------------------------------------------------------ Call

/** One call: from `device.connect()` or the Device's `incoming` event (never `new Call()`). */
export class Call extends Emitter<CallEventMap> {
  private constructor();
  static readonly EVENTS: readonly (keyof CallEventMap)[];
  readonly direction: "inbound" | "outbound";
  readonly remoteIdentity: string | undefined;
  readonly remoteDisplayName: string | null;
  readonly customHeaders: Readonly<Record<string, string>>;
  readonly sipCallId: string | null;
  readonly status: CallStatus;
  readonly timings: CallTimings;
  readonly ended: boolean;
  readonly ignored: boolean;
  readonly activeWarnings: string[];
  getStatus(): CallStatus;
  isMuted(): boolean;
  isOnHold(): boolean;
  isRemoteHold(): boolean;
  accept(options?: CallMediaOptions): Promise<void>;
  /** The MediaStream this call sends; `undefined` before media; throws `INVALID_STATE` once ended. */
  getLocalStream(): MediaStream | undefined;
  /** The far end's audio; `undefined` before media; throws `INVALID_STATE` once ended. */
  getRemoteStream(): MediaStream | undefined;
  reject(statusCode?: number): void;
  ignore(): void;
  disconnect(): Promise<void>;
  mute(shouldMute?: boolean): void;
  hold(shouldHold?: boolean): Promise<void>;
  sendDigits(digits: string): void;
  setInputDevice(deviceId: string): Promise<void>;
  setOutputDevice(deviceId: string): Promise<void>;
  getStats(): Promise<Record<string, unknown>>;
}

// ------------------------------------------------------------------------------------------------ module

export function load(options?: LoadOptions): Promise<LoadInfo>;
export function ready(): Promise<LoadInfo>;
export function isReady(): boolean;
export function liveObjects(): LiveObjects | null;
/** Set once loaded (a live binding). */
export const info: LoadInfo | null;
/** The Pyodide instance once loaded (an escape hatch), else null. */
export const pyodide: unknown;

/** The default export, also the global `TwoChatVoice` (frozen). */
declare const TwoChatVoice: {
  readonly Device: typeof Device;
  readonly Call: typeof Call;
  readonly VoiceSDKError: typeof VoiceSDKError;
  readonly AuthError: typeof AuthError;
  readonly RegistrationError: typeof RegistrationError;
  readonly TokenError: typeof TokenError;
  readonly MediaError: typeof MediaError;
  readonly load: typeof load;
  readonly ready: typeof ready;
  readonly isReady: typeof isReady;
  readonly liveObjects: typeof liveObjects;
  readonly pyodide: unknown;
  readonly info: LoadInfo | null;
};
export default TwoChatVoice;
