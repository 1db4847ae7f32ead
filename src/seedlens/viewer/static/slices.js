// A sample with its heatmap on top: one canvas for a 2D image or cube, three synced planes for a volume.
// Each plane is three PNG layers the server cuts on request (scan, heatmap, ground-truth contour); the canvas
// composites them, so the opacity and the crosshair never need a new request.

const AXES = [
  { name: "axial", rows: 1, cols: 2 },    // plane (H, W) at depth d
  { name: "coronal", rows: 0, cols: 2 },  // plane (D, W) at row h
  { name: "sagittal", rows: 0, cols: 1 }, // plane (D, H) at column w
];
const PANEL_PX = 340;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

class BitmapCache {
  constructor(fetchBitmap, size = 96) {
    this.fetchBitmap = fetchBitmap;
    this.size = size;
    this.items = new Map();
  }
  get(url) {
    if (this.items.has(url)) {
      const hit = this.items.get(url);
      this.items.delete(url);
      this.items.set(url, hit);
      return hit;
    }
    const loading = this.fetchBitmap(url);
    loading.catch(() => this.items.delete(url));
    this.items.set(url, loading);
    while (this.items.size > this.size) this.items.delete(this.items.keys().next().value);
    return loading;
  }
}

export class SliceViewer {
  // info: the sample's layout (kind, spatial, spacing, heatmaps, has_mask, bands...)
  // urls: { scan(axis, plane, band), heat(axis, plane, normalize) or null, mask(axis, plane) or null, spectrum(y, x) }
  // fetchBitmap(url) -> Promise<ImageBitmap>; fetchJson(url) -> Promise<object>
  constructor(root, info, urls, fetchBitmap, fetchJson) {
    this.root = root;
    this.info = info;
    this.urls = urls;
    this.cache = new BitmapCache(fetchBitmap);
    this.fetchJson = fetchJson;
    this.volume = info.kind === "volume";
    this.opacity = 0.5;
    this.normalize = (info.heatmaps || []).includes("local") ? "local" : (info.heatmaps || [])[0];
    this.band = null; // a cube: null = false colour
    this.cursor = this.volume ? info.spatial.map((n) => Math.floor(n / 2)) : [0];
    this.panels = [];
    this.drawn = 0; // increases with each completed draw (tests wait on it)
    this.build();
  }

  build() {
    this.root.replaceChildren();
    const controls = el("div", { class: "controls" });
    if (this.urls.heat && this.normalize) {
      const opacity = el("input", { type: "range", min: "0", max: "100", value: String(this.opacity * 100),
                                    class: "opacity", "aria-label": "heatmap opacity" });
      opacity.addEventListener("input", () => { this.opacity = opacity.value / 100; this.redraw(); });
      controls.append(el("label", {}, "heatmap opacity ", opacity));
      const select = el("select", { class: "normalize", "aria-label": "heatmap normalisation" });
      for (const mode of this.info.heatmaps) {
        const option = el("option", { value: mode }, mode === "global" ? "global (comparable across samples)"
                                                                     : "local (this sample's own range)");
        if (mode === this.normalize) option.selected = true;
        select.append(option);
      }
      select.addEventListener("change", () => { this.normalize = select.value; this.refresh(); });
      controls.append(el("label", {}, " scaling ", select));
      controls.append(el("span", { class: "colour-bar" }, "low ",
                         el("img", { src: this.urls.colourBar, alt: "colour bar", class: "bar" }), " high"));
    }
    if (this.info.kind === "cube") {
      const band = el("input", { type: "range", min: "-1", max: String(this.info.bands - 1), value: "-1",
                                 class: "band", "aria-label": "band" });
      const caption = el("span", { class: "band-caption" }, this.bandCaption());
      band.addEventListener("input", () => {
        this.band = band.value < 0 ? null : Number(band.value);
        caption.textContent = this.bandCaption();
        this.refresh();
      });
      controls.append(el("label", {}, " band ", band), caption);
    }
    this.root.append(controls);
    const planes = el("div", { class: "planes" });
    const axes = this.volume ? [0, 1, 2] : [null];
    const spacing = this.info.spacing || this.info.spatial.map(() => 1);
    const extent = Math.max(...this.info.spatial.map((n, i) => n * spacing[i]));
    for (const axis of axes) planes.append(this.panel(axis, spacing, PANEL_PX / extent));
    this.root.append(planes);
    if (this.info.kind === "cube") {
      this.spectrumCanvas = el("canvas", { width: "520", height: "200", class: "plot spectrum-plot" });
      this.spectrumText = el("div", { class: "readout spectrum-readout" }, "click a pixel for its spectrum");
      this.root.append(el("div", { class: "spectrum" }, this.spectrumCanvas, this.spectrumText));
    }
    this.refresh();
  }

  bandCaption() {
    if (this.band === null) {
      const [r, g, b] = this.info.false_colour;
      const name = (i) => (this.info.wavelengths ? `${Math.round(this.info.wavelengths[i])} nm` : `band ${i}`);
      return `false colour (R/G/B = ${name(r)} / ${name(g)} / ${name(b)})`;
    }
    return this.info.wavelengths ? `${this.info.wavelengths[this.band].toFixed(1)} nm` : `band ${this.band}`;
  }

  panel(axis, spacing, scale) {
    const spatial = this.info.spatial;
    const geometry = axis === null ? { rows: 0, cols: 1, name: this.info.kind } : AXES[axis];
    const rows = spatial[geometry.rows];
    const cols = spatial[geometry.cols];
    // drawn at its display size (voxels scaled by their spacing), so that lines stay one pixel wide
    const width = Math.max(1, Math.round(cols * spacing[geometry.cols] * scale));
    const height = Math.max(1, Math.round(rows * spacing[geometry.rows] * scale));
    const canvas = el("canvas", { width: String(width), height: String(height), class: "plane",
                                  "data-axis": axis === null ? "none" : String(axis) });
    const panel = { axis, canvas, rows, cols, geometry, layers: null };
    const figure = el("figure", { class: "panel" }, canvas);
    if (axis !== null) {
      const slider = el("input", { type: "range", min: "0", max: String(spatial[axis] - 1),
                                   value: String(this.cursor[axis]), class: "slice", "data-axis": String(axis),
                                   "aria-label": `${geometry.name} slice` });
      const caption = el("figcaption", {}, "");
      slider.addEventListener("input", () => { this.cursor[axis] = Number(slider.value); this.refresh(); });
      panel.slider = slider;
      panel.caption = caption;
      figure.append(slider, caption);
    }
    canvas.addEventListener("click", (event) => this.clicked(panel, event));
    this.panels.push(panel);
    return figure;
  }

  clicked(panel, event) {
    const box = panel.canvas.getBoundingClientRect();
    const col = Math.min(panel.cols - 1, Math.floor(((event.clientX - box.left) / box.width) * panel.cols));
    const row = Math.min(panel.rows - 1, Math.floor(((event.clientY - box.top) / box.height) * panel.rows));
    if (this.volume) {
      this.cursor[panel.geometry.rows] = row;
      this.cursor[panel.geometry.cols] = col;
      this.refresh();
    } else if (this.info.kind === "cube") {
      this.showSpectrum(row, col);
    }
  }

  async showSpectrum(y, x) {
    const data = await this.fetchJson(this.urls.spectrum(y, x));
    this.spectrum = data;
    drawLine(this.spectrumCanvas, data.bands, data.values, data.unit === "nm" ? "wavelength (nm)" : "band");
    this.redraw();
    const heat = data.heat[this.normalize];
    this.spectrumText.textContent = `pixel (y ${y}, x ${x}) · ${data.values.length} bands · ` +
      `min ${Math.min(...data.values).toFixed(3)} · max ${Math.max(...data.values).toFixed(3)}` +
      (heat === undefined ? "" : ` · anomaly ${heat.toFixed(2)}`);
  }

  planeOf(panel) {
    return panel.axis === null ? 0 : this.cursor[panel.axis];
  }

  async refresh() {
    await Promise.all(this.panels.map(async (panel) => {
      const plane = this.planeOf(panel);
      const wanted = `${plane}/${this.normalize}/${this.band}`;
      panel.wanted = wanted;
      const parts = [this.cache.get(this.urls.scan(panel.axis, plane, this.band))];
      parts.push(this.urls.heat && this.normalize ? this.cache.get(this.urls.heat(panel.axis, plane, this.normalize))
                                                  : Promise.resolve(null));
      parts.push(this.urls.mask && this.info.has_mask ? this.cache.get(this.urls.mask(panel.axis, plane))
                                                      : Promise.resolve(null));
      const layers = await Promise.all(parts);
      if (panel.wanted !== wanted) return; // a newer plane was asked for meanwhile
      panel.layers = layers;
      if (panel.caption) {
        panel.caption.textContent = `${panel.geometry.name} ${plane + 1} / ${this.info.spatial[panel.axis]}`;
      }
    }));
    this.redraw();
  }

  redraw() {
    for (const panel of this.panels) {
      if (!panel.layers) continue;
      const [scan, heat, mask] = panel.layers;
      const ctx = panel.canvas.getContext("2d");
      const w = panel.canvas.width, h = panel.canvas.height;
      const sx = w / panel.cols, sy = h / panel.rows; // display pixels per voxel
      ctx.imageSmoothingEnabled = false;
      ctx.globalAlpha = 1;
      ctx.drawImage(scan, 0, 0, w, h);
      if (heat) {
        ctx.globalAlpha = this.opacity;
        ctx.drawImage(heat, 0, 0, w, h);
        ctx.globalAlpha = 1;
      }
      if (mask) ctx.drawImage(mask, 0, 0, w, h);
      ctx.strokeStyle = "rgba(255, 230, 0, 0.85)";
      ctx.lineWidth = 1;
      if (this.volume) {
        const y = Math.floor((this.cursor[panel.geometry.rows] + 0.5) * sy) + 0.5;
        const x = Math.floor((this.cursor[panel.geometry.cols] + 0.5) * sx) + 0.5;
        ctx.beginPath();
        ctx.moveTo(0, y); ctx.lineTo(w, y);
        ctx.moveTo(x, 0); ctx.lineTo(x, h);
        ctx.stroke();
      } else if (this.spectrum) {
        ctx.strokeRect(this.spectrum.x * sx, this.spectrum.y * sy, Math.max(sx, 3), Math.max(sy, 3));
      }
      if (panel.slider) panel.slider.value = String(this.cursor[panel.axis]);
    }
    this.drawn += 1;
    this.root.dataset.drawn = String(this.drawn);
  }
}

// A small line plot: x and y arrays on a canvas, with the axis ranges written at the corners.
export function drawLine(canvas, xs, ys, xLabel, options = {}) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 34;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  const x0 = options.xMin ?? Math.min(...xs), x1 = options.xMax ?? Math.max(...xs);
  const y0 = options.yMin ?? Math.min(...ys), y1 = options.yMax ?? Math.max(...ys);
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const sy = (y) => h - pad - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  ctx.strokeStyle = "#888"; ctx.lineWidth = 1;
  ctx.strokeRect(pad, pad / 2, w - 2 * pad, h - 1.5 * pad);
  if (options.diagonal) {
    ctx.setLineDash([4, 4]); ctx.beginPath(); ctx.moveTo(sx(x0), sy(y0)); ctx.lineTo(sx(x1), sy(y1)); ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.strokeStyle = options.colour || "#c0392b"; ctx.lineWidth = 2;
  ctx.beginPath();
  xs.forEach((x, i) => (i ? ctx.lineTo(sx(x), sy(ys[i])) : ctx.moveTo(sx(x), sy(ys[i]))));
  ctx.stroke();
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
  ctx.fillText(x0.toPrecision(3), pad, h - pad / 2 + 6);
  ctx.fillText(x1.toPrecision(3), w - pad - 24, h - pad / 2 + 6);
  ctx.fillText(xLabel, w / 2 - 30, h - 4);
  ctx.fillText(y1.toPrecision(3), 2, pad / 2 + 8);
  ctx.fillText(y0.toPrecision(3), 2, h - pad);
  if (options.yLabel) ctx.fillText(options.yLabel, pad + 4, pad / 2 + 12);
}

// Bars of two stacked histograms (normal, anomalous) with a vertical line at the threshold.
export function drawHistogram(canvas, edges, normal, anomalous, threshold) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 30;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  const top = Math.max(1, ...normal, ...anomalous);
  const x0 = edges[0], x1 = edges[edges.length - 1];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const barH = (n) => (n / top) * (h - 2 * pad);
  for (let i = 0; i < normal.length; i++) {
    const left = sx(edges[i]), width = Math.max(1, sx(edges[i + 1]) - left - 1);
    ctx.fillStyle = "rgba(41, 128, 185, 0.6)"; ctx.fillRect(left, h - pad - barH(normal[i]), width, barH(normal[i]));
    ctx.fillStyle = "rgba(192, 57, 43, 0.6)";
    ctx.fillRect(left, h - pad - barH(anomalous[i]), width, barH(anomalous[i]));
  }
  if (threshold >= x0 && threshold <= x1) {
    ctx.strokeStyle = "#000"; ctx.setLineDash([4, 3]); ctx.beginPath();
    ctx.moveTo(sx(threshold), pad / 2); ctx.lineTo(sx(threshold), h - pad); ctx.stroke(); ctx.setLineDash([]);
  }
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
  ctx.fillText(x0.toPrecision(3), pad, h - pad / 2 + 4);
  ctx.fillText(x1.toPrecision(3), w - pad - 24, h - pad / 2 + 4);
  ctx.fillText("score", w / 2 - 14, h - 4);
  ctx.fillStyle = "rgba(41, 128, 185, 1)"; ctx.fillText("normal", pad + 4, pad / 2 + 8);
  ctx.fillStyle = "rgba(192, 57, 43, 1)"; ctx.fillText("anomalous", pad + 54, pad / 2 + 8);
  ctx.fillStyle = "#000"; ctx.fillText("threshold", pad + 130, pad / 2 + 8);
}
