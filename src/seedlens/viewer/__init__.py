"""Browser viewers: a run's samples ranked by score with heatmaps on top (``seedlens view``), and the hub's ``/ui``.

The pages are plain HTML + JavaScript shipped in ``static/`` (no CDN, no build step); the server cuts each plane of
a scan, its heatmap and its ground truth into PNG layers on request (:mod:`seedlens.viewer.layers`), so a 512³
volume is browsed slice by slice and never sent whole.
"""
