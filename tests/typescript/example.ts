// An app written in TypeScript against twochat-voice.d.ts (tests/browser/test_js_facade_builds.py runs
// `tsc --noEmit` over this folder with the built declarations). The `@ts-expect-error` lines are mistakes
// the declarations must catch: tsc fails if one of them compiles.
import TwoChatVoice, {
  Call,
  Device,
  MediaError,
  TokenError,
  VoiceSDKError,
  type AudioDeviceInfo,
  type DisconnectInfo,
  type LoadInfo,
  type PreflightReport,
  type TabRole,
} from "./twochat-voice.js";

export async function softphone(token: string, fetchToken: () => Promise<string>): Promise<Call> {
  const info: LoadInfo = await TwoChatVoice.ready();
  console.log(`SDK ${info.sdkVersion} in ${info.loadMs} ms, snapshot ${info.snapshot}`);

  const device = new TwoChatVoice.Device({
    token,
    logLevel: "info",
    apiBaseUrl: "http://127.0.0.1:8765",
    media: { inputDeviceId: null },
    multiTab: true,
    sounds: { incoming: "/ring.mp3", disconnect: false },
  });
  device.on("registered", () => console.log("ready for calls as", device.identity));
  device.on("incoming", (call) => {
    console.log(call.remoteDisplayName ?? call.remoteIdentity, call.customHeaders["Ticket-Id"]);
    void call.accept();
  });
  device.on("incomingRejected", ({ remoteIdentity, statusCode }) => console.log(remoteIdentity, statusCode));
  device.on("tokenWillExpire", async () => device.updateToken(await fetchToken()));
  device.on("reconnecting", ({ reason }) => console.log("reconnecting:", reason));
  device.on("error", (err) => console.error(err.code, err.message, err.toJSON()));
  device.on("deviceChange", async () => console.log(await device.listAudioDevices()));
  await device.register();

  const role: TabRole | null = device.tabRole;
  const canPickSpeaker: boolean = device.isOutputSelectionSupported;
  const microphones: AudioDeviceInfo[] = (await device.listAudioDevices()).filter((d) => d.kind === "audioinput");
  await device.setInputDevice(microphones[0]?.deviceId ?? null);
  const speaker = (await device.listAudioDevices()).find((d) => d.kind === "audiooutput");
  if (canPickSpeaker && speaker && role !== "follower") await device.setOutputDevice(speaker.deviceId);
  const report: PreflightReport = await device.runPreflight({ echoNumber: "+15550100", callSeconds: 1 });
  if (!report.ok) console.warn(report.microphoneError, report.iceError, report.callError, report.mos);

  const call = await device.connect({ to: "+15550100", extraHeaders: ["X-Ticket: 42"] });
  call.on("ringing", ({ hasEarlyMedia }) => console.log("ringing", hasEarlyMedia));
  call.on("warning", (name, warning) => console.log(name, warning.value, warning.threshold));
  call.on("sample", (sample) => console.log(sample.mos, sample.rttMs));
  call.on("disconnect", (end: DisconnectInfo) => console.log(end.reason, end.statusCode));
  call.mute(true);
  await call.hold(true);
  call.sendDigits("12#");
  const ignored: boolean = call.ignored;
  const status: "pending" | "ringing" | "accepted" | "disconnected" | "failed" = call.getStatus();
  console.log(ignored, status, call.timings.answered, device.calls.length, Device.EVENTS, Call.EVENTS);

  try {
    await device.updateToken("not-a-jwt");
  } catch (err) {
    if (err instanceof TokenError) console.log(err.code);
    else if (err instanceof MediaError || err instanceof VoiceSDKError) console.log(err.cause);
  }

  // @ts-expect-error: there is no such Device event (a typo)
  device.on("registred", () => {});
  // @ts-expect-error: connect() takes {to, ...}, not a number
  void device.connect("+15550100");
  // @ts-expect-error: Calls come from device.connect() and the `incoming` event
  new Call();
  // @ts-expect-error: an unknown option
  new Device({ token, logLevl: "info" });
  // @ts-expect-error: the token is required
  new TwoChatVoice.Device({ logLevel: "info" });
  // @ts-expect-error: the speaker cannot be "the default" (null) once chosen
  void device.setOutputDevice(null);
  // @ts-expect-error: state is read-only
  device.state = "registered";
  // @ts-expect-error: a disconnect payload has no `code`
  call.on("disconnect", (end) => console.log(end.code));
  return call;
}
