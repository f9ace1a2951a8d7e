/// <reference path="./twochat-voice.d.ts" />
// A classic script (no import, no export) using the global TwoChatVoice, as a page does after
// <script src="twochat-voice.global.js">: the declarations' `export as namespace TwoChatVoice`.

const phone = new TwoChatVoice.Device({ token: "token-from-your-backend" });
function onIncoming(call: TwoChatVoice.Call): void {
  call.reject(603);
}
phone.on("incoming", onIncoming);
phone.register().then(
  () => phone.connect({ to: "+15550100" }),
  (err: unknown) => {
    if (err instanceof TwoChatVoice.RegistrationError || err instanceof TwoChatVoice.AuthError) {
      console.error(err.code);
    }
    throw err;
  },
);
const loaded: boolean = TwoChatVoice.isReady();
// @ts-expect-error: the global has no such member
TwoChatVoice.Phone;
