"""The desk's sync with the server: a Qt-free client (:mod:`desktop.sync.client`) and the
worker that runs it off the UI thread and reports through signals (:mod:`desktop.sync.worker`).
"""
