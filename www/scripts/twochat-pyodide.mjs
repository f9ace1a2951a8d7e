// PyScript's "interpreter" module for twochat-voice-web pages: a <script type="py"> page starts exactly like
// the fast start (twochat-start.mjs): the bytecode Python bundle instead of python_stdlib.zip and wheels,
// the memory snapshot of a returning visitor, the service worker, and PyScript's own package precompiled.
//
// PyScript (0.7) loads the module named by its config's "interpreter" and calls the module's
// loadPyodide(options) and reads its version, as it does with Pyodide's own pyodide.mjs:
//
//   pyscript.json (written by build.py; PyScript resolves "interpreter" against the page, so the path is
//   taken from the site's root and the same config serves pages in any folder):
//     {"interpreter": "/scripts/twochat-pyodide.mjs"}
//
//   <script type="module" src="/scripts/twochat-pyodide.mjs"></script>   <!-- optional: starts Python at once -->
//   <script type="module" src="/pyscript/core.js"></script>
//   <script type="py" async src="./phone.py" config="/pyscript.json"></script>
//
// Nothing else goes in the config for the SDK: no wheel, no "files" entry (build-info.json, next to this
// folder, names the bundle). Add your own modules under "files" as PyScript documents it.
//
// After start-up, window.twochatStart holds what startPython reported: {snapshot, timings, buildInfo}
// ("restored" / "made" / "off": whether this visit started from the memory snapshot).

import { version as pyodideVersion } from "../pyodide/pyodide.mjs";
import { startPython } from "./twochat-start.mjs";

/** The Pyodide version, read by PyScript (it names PyScript's package cache). */
export const version = pyodideVersion;

// Python starts when this module is evaluated: a page that loads it at the top (<script type="module"
// src="/scripts/twochat-pyodide.mjs"> before PyScript's core.js) starts Python while PyScript itself loads
// and reads its config; otherwise PyScript's import of it starts it. Either way once per page.
const started = startPython({ pyscript: true });
started.then(
  ({ snapshot, snapshotSaved, timings, buildInfo }) => {
    globalThis.twochatStart = { snapshot, snapshotSaved, timings, buildInfo };
  },
  () => {}, // reported by loadPyodide below, to PyScript
);

/**
 * Called by PyScript with {stdout, stderr, indexURL, ...}; resolves to the interpreter with
 * twochat_voice_web imported. PyScript's "packages" are not supported (the npm Pyodide has no micropip):
 * add pure-Python modules with "files".
 */
export async function loadPyodide(options = {}) {
  if (options.packages?.length) {
    throw new Error(
      `twochat-pyodide.mjs: config "packages" (${options.packages.join(", ")}) needs micropip, which this ` +
      "site's Pyodide does not ship; list pure-Python modules under \"files\" instead",
    );
  }
  const { pyodide } = await started;
  // PyScript's output functions take one line per call, as Pyodide's "batched" handlers do.
  if (options.stdout) pyodide.setStdout({ batched: options.stdout });
  if (options.stderr) pyodide.setStderr({ batched: options.stderr });
  return pyodide;
}
