"""Python side of the twochat-voice-web demo pages (runs in the browser under PyScript).

``build.py`` compiles the modules to bytecode into ``app/app.zip``, which PyScript unpacks into Pyodide's
file system (the ``files`` section of ``app/pyscript.json``, also written by ``build.py``); they are
imported as the ``app`` package:

- :mod:`app.boot`   reports start-up progress and readiness to the JS shell (``scripts/boot.js``).
- :mod:`app.status` the status area at the top of a page.
- :mod:`app.main`   entry point of ``index.html``, the softphone (:mod:`app.softphone`; its parts in
  :mod:`app.views`, :mod:`app.audio`, :mod:`app.backend`, :mod:`app.dom`; pure helpers in
  :mod:`app.dialing`, :mod:`app.messages`, :mod:`app.calllog`, :mod:`app.levels`).
- :mod:`app.click_to_call` entry point of ``click-to-call.html`` (the minimal example).
"""
