// The benchmark part of facade_esm.html and facade_classic.html, written once: what both pages do with
// the JS facade once they have it (however it was loaded): the token from the page's backend
// (POST /demo/token), new TwoChatVoice.Device({token}), register(). A classic script, so that both
// pages can load it the same way. Ready: window.benchState = {ready, error, marks: {token, registered,
// ready}} (marks in ms since navigation start); the registered Device is window.benchDevice.
"use strict";

window.benchRegisterFacade = async (TwoChatVoice) => {
  const marks = {};
  const mark = (name) => { marks[name] = Math.round(performance.now()); };
  window.benchState = { ready: false, error: null, marks };
  const user = new URLSearchParams(location.search).get("user") || "alice";
  try {
    const minted = await fetch("/demo/token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user }),
    });
    if (!minted.ok) throw new Error(`/demo/token: HTTP ${minted.status}`);
    const { token } = await minted.json();
    mark("token");
    const device = new TwoChatVoice.Device({ token, apiBaseUrl: location.origin });
    await device.register();
    mark("registered");
    mark("ready");
    window.benchDevice = device;
    window.benchState.ready = true;
  } catch (error) {
    window.benchState.error = String(error && error.stack ? error.stack : error);
  }
};
