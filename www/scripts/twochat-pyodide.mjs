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
// ("restored" / "made" / "off": whether this visit started from the memory snapshot), and pyscriptSteps:
// how many times PyScript's standard-library step ran from bytecode (see below).
//
// PyScript's standard-library step. Before each <script type="py">, PyScript runs Python source that writes
// its own package's files into the working directory and imports it (@pyscript/core's src/stdlib.js: 33 kB
// of source, compiled in the page every time). build.py compiles the very same package to bytecode (it is
// first on sys.path) and records the step's text as PyScript assembles it, by its length and FNV-1a hash
// (build-info.json "pyscript_step"). The interpreter this module returns recognises that exact text at the
// start of the code PyScript runs and runs `import pyscript` instead: the same package, nothing compiled,
// no file written. Any other text (another PyScript version) runs unchanged.

import { version as pyodideVersion } from "../pyodide/pyodide.mjs";
import { startPython } from "./twochat-start.mjs";

/** The Pyodide version, read by PyScript (it names PyScript's package cache). */
export const version = pyodideVersion;

// Python starts when this module is evaluated: a page that loads it at the top (<script type="module"
// src="/scripts/twochat-pyodide.mjs"> before PyScript's core.js) starts Python while PyScript itself loads
// and reads its config; otherwise PyScript's import of it starts it. Either way once per page.
const started = startPython({ pyscript: true });
/** How many times PyScript's standard-library step ran from bytecode on this page. */
const pyscriptSteps = { bytecode: 0 };
started.then(
  ({ snapshot, snapshotSaved, timings, buildInfo }) => {
    globalThis.twochatStart = { snapshot, snapshotSaved, timings, buildInfo, pyscriptSteps };
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
  const { pyodide, buildInfo } = await started;
  runStdlibStepFromBytecode(pyodide, buildInfo.python_bundle.pyscript_step);
  // PyScript's output functions take one line per call, as Pyodide's "batched" handlers do.
  if (options.stdout) pyodide.setStdout({ batched: options.stdout });
  if (options.stderr) pyodide.setStderr({ batched: options.stderr });
  return pyodide;
}

/** The interpreters whose runPython already runs the step from bytecode (loadPyodide may be called again). */
const stepsFromBytecode = new WeakSet();

/** What runs instead of PyScript's standard-library step: its package, already on sys.path as bytecode. */
const STDLIB_STEP_FROM_BYTECODE = "import pyscript as _pyscript\ndel _pyscript\n";

/** FNV-1a (32 bits) of the first ``length`` UTF-16 code units of ``text`` (build.py computes the same). */
function fnv1a32(text, length) {
  let hash = 0x811c9dc5;
  for (let index = 0; index < length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Make ``pyodide``'s runPython and runPythonAsync run PyScript's standard-library step (``step``: its
 * {length, fnv1a32} from build-info.json) as ``import pyscript``; see the top of this file.
 */
function runStdlibStepFromBytecode(pyodide, step) {
  if (!step || !(step.length > 0) || stepsFromBytecode.has(pyodide)) return;
  stepsFromBytecode.add(pyodide);
  const swap = (code) => {
    if (typeof code !== "string" || code.length < step.length) return code;
    if (fnv1a32(code, step.length) !== step.fnv1a32) return code;
    pyscriptSteps.bytecode += 1;
    return STDLIB_STEP_FROM_BYTECODE + code.slice(step.length);
  };
  const runPython = pyodide.runPython.bind(pyodide);
  const runPythonAsync = pyodide.runPythonAsync.bind(pyodide);
  pyodide.runPython = (code, ...options) => runPython(swap(code), ...options);
  pyodide.runPythonAsync = (code, ...options) => runPythonAsync(swap(code), ...options);
}
