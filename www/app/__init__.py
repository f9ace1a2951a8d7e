"""Python side of the twochat-voice-web demo pages (runs in the browser under PyScript).

The modules are installed into Pyodide's file system by the ``files`` section of ``pyscript.json``
(written by ``build.py``) and imported as the ``app`` package:

- :mod:`app.boot`   reports start-up progress and readiness to the JS shell (``scripts/boot.js``).
- :mod:`app.status` the status area at the top of a page.
- :mod:`app.main`   entry point of ``index.html``, the softphone (:mod:`app.softphone`; its parts in
  :mod:`app.views`, :mod:`app.audio`, :mod:`app.backend`, :mod:`app.dom`; pure helpers in
  :mod:`app.dialing`, :mod:`app.messages`, :mod:`app.calllog`, :mod:`app.levels`).
- :mod:`app.click_to_call` entry point of ``click-to-call.html`` (the minimal example).
"""
