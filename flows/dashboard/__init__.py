"""Data-quality dashboard: a small stdlib web app over the manifests, metrics and results of runs.

    longterm dashboard runs/demo             # http://127.0.0.1:8765
    longterm dashboard runs --port 0         # any free port

Pages are rendered on every request from what is on disk (new stages appear on reload). All
plots are inline SVG drawn in Python; nothing is loaded from outside the server. Modules:
``collect`` (find runs and stages, sample shards), ``charts`` (SVG), ``page`` (HTML),
``server`` (http.server). The stats each stage must publish are listed in docs/dashboard.md.
"""
