// The run viewer: samples ranked by score, ROC and histogram, and the selected sample with its heatmap.
import { SliceViewer, drawHistogram, drawLine, el } from "./slices.js";

const LABELS = { id: "sample", label: "label", score: "score", anomalous: "anomalous", defects: "defects",
                 pixel_auroc: "pixel AUROC", aupro: "AUPRO" };
const state = { run: null, sortKey: "score", descending: true, selected: null };  // fusion runs sort by id

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

async function getBitmap(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return createImageBitmap(await response.blob());
}

function cell(value, key) {
  if (value === null || value === undefined) return "–";
  if (!(key in LABELS)) return typeof value === "number" ? value.toPrecision(4) : String(value); // fusion targets
  if (key === "anomalous") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isInteger(value) && key === "defects" ? String(value) : value.toFixed(4);
  return String(value);
}

function visibleRows() {
  const text = document.getElementById("filter").value.trim().toLowerCase();
  const label = document.getElementById("label-filter").value;
  const decision = document.getElementById("decision-filter").value;
  const rows = state.run.samples.filter((row) =>
    (!text || Object.values(row).join(" ").toLowerCase().includes(text)) &&
    (!label || row.label === label) &&
    (!decision || (decision === "yes") === row.anomalous));
  const key = state.sortKey;
  const sign = state.descending ? -1 : 1;
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === y) return a.index - b.index;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
  return rows;
}

function renderTable() {
  const table = document.getElementById("samples");
  const head = el("tr");
  for (const key of state.run.columns) {
    const arrow = key === state.sortKey ? (state.descending ? " ▼" : " ▲") : "";
    head.append(el("th", { "data-key": key, onclick: () => sortBy(key) }, (LABELS[key] || key) + arrow));
  }
  table.tHead.replaceChildren(head);
  const rows = visibleRows();
  table.tBodies[0].replaceChildren(...rows.map((row) => {
    const tr = el("tr", { "data-index": String(row.index), onclick: () => select(row.index),
                          class: row.index === state.selected ? "selected" : "" });
    for (const key of state.run.columns) {
      tr.append(el("td", { class: key === "anomalous" && row.anomalous ? "flag" : "" }, cell(row[key], key)));
    }
    return tr;
  }));
  document.getElementById("count").textContent = `${rows.length} of ${state.run.samples.length} samples`;
}

function sortBy(key) {
  state.descending = key === state.sortKey ? !state.descending : key === "score";
  state.sortKey = key;
  renderTable();
}

function renderPlots() {
  const run = state.run;
  if (!run.histogram) { // a fusion model: no anomaly score to plot
    document.querySelector(".plots").hidden = true;
    return;
  }
  if (run.roc) {
    drawLine(document.getElementById("roc"), run.roc.fpr, run.roc.tpr, "false positive rate",
             { xMin: 0, xMax: 1, yMin: 0, yMax: 1, diagonal: true, yLabel: "true positive rate" });
    document.getElementById("roc-caption").textContent = `ROC · AUROC ${run.roc.auroc.toFixed(3)}`;
  } else {
    document.getElementById("roc-caption").textContent = "ROC: needs normal and anomalous samples";
  }
  drawHistogram(document.getElementById("histogram"), run.histogram.edges, run.histogram.normal,
                run.histogram.anomalous, run.threshold);
}

function layerUrls(index, modality) {
  const base = `/api/samples/${index}`;
  const extra = modality ? `&modality=${encodeURIComponent(modality)}` : "";
  const query = (axis, plane) => `plane=${plane}` + (axis === null ? "" : `&axis=${axis}`) + extra;
  return {
    scan: (axis, plane, band) => `${base}/scan.png?${query(axis, plane)}` + (band === null ? "" : `&band=${band}`),
    heat: (axis, plane, normalize) => `${base}/heatmap.png?${query(axis, plane)}&normalize=${normalize}`,
    mask: (axis, plane) => `${base}/mask.png?${query(axis, plane)}`,
    spectrum: (y, x) => `${base}/spectrum?y=${y}&x=${x}${extra}`,
    colourBar: "/api/colour-bar.png",
  };
}

// Shapley bars: how much each modality moved one target's prediction away from the model's prior.
function drawShapley(canvas, target) {
  const entries = Object.entries(target.contributions);
  const ctx = canvas.getContext("2d");
  const w = canvas.width, rowH = 22, left = 90, right = 60;
  canvas.height = 30 + rowH * entries.length;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, canvas.height);
  const top = Math.max(1e-9, ...entries.map(([, v]) => Math.abs(v)));
  const zero = left + (w - left - right) / 2;
  const scale = (w - left - right) / 2 / top;
  ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(zero, 4); ctx.lineTo(zero, canvas.height - 20); ctx.stroke();
  ctx.font = "12px sans-serif";
  entries.forEach(([name, value], i) => {
    const y = 6 + i * rowH;
    ctx.fillStyle = value >= 0 ? "#c0392b" : "#2980b9";
    ctx.fillRect(Math.min(zero, zero + value * scale), y, Math.abs(value * scale), rowH - 6);
    ctx.fillStyle = "#222";
    ctx.fillText(name, 4, y + 12);
    ctx.fillText((value >= 0 ? "+" : "") + value.toFixed(3), w - right + 6, y + 12);
  });
  ctx.fillStyle = "#555";
  const what = target.explained === "value" ? "value" : `P(${target.explained})`;
  ctx.fillText(`${what}: prior ${target.base.toFixed(3)} → ${target.prediction.toFixed(3)}`, 4, canvas.height - 6);
}

async function selectFusion(index, info) {
  document.getElementById("sample-title").textContent = info.id;
  document.getElementById("sample-facts").textContent =
    `modalities ${info.present.join(" + ")}` + (info.missing.length ? ` · missing ${info.missing.join(", ")}` : "") +
    ` · heatmaps explain ${info.heatmap_target}`;
  const root = document.getElementById("viewer");
  root.replaceChildren();
  const bars = el("div", { class: "shapley" });
  for (const [name, target] of Object.entries(info.targets)) {
    const canvas = el("canvas", { width: "460", height: "80", class: "plot shapley-bars", "data-target": name });
    bars.append(el("figure", {}, canvas, el("figcaption", {}, `${name}: Shapley contribution of each modality`)));
    drawShapley(canvas, target);
  }
  root.append(bars);
  window.viewers = [];
  for (const modality of info.modalities) {
    const box = el("div", { class: "modality", "data-modality": modality.name });
    root.append(el("h3", {}, `${modality.name} (${modality.kind})`), box);
    window.viewers.push(new SliceViewer(box, modality, layerUrls(index, modality.name), getBitmap, getJson));
  }
  root.dataset.drawn = "1";
}

async function select(index) {
  state.selected = index;
  renderTable();
  history.replaceState(null, "", `#sample=${index}`);
  document.getElementById("sample-title").textContent = "loading…";
  const info = await getJson(`/api/samples/${index}`);
  if (info.kind === "fusion") return selectFusion(index, info);
  document.getElementById("sample-title").textContent = info.id;
  const facts = [`label ${info.label}`, `score ${info.score.toFixed(4)}`,
                 `threshold ${info.threshold.toFixed(4)}`, info.anomalous ? "called anomalous" : "called normal",
                 `${info.kind} ${info.shape.join(" × ")}`];
  if (info.spacing) facts.push(`voxel ${info.spacing.map((s) => s.toPrecision(3)).join(" × ")} mm`);
  if (info.defects !== undefined) facts.push(`${info.defects} defect region(s)`);
  document.getElementById("sample-facts").textContent = facts.join(" · ");
  window.viewer = new SliceViewer(document.getElementById("viewer"), info, layerUrls(index, null), getBitmap, getJson);
}

async function main() {
  state.run = await getJson("/api/run");
  const run = state.run;
  document.title = `seedlens view · ${run.run}`;
  document.getElementById("run-name").textContent = `· ${run.run}`;
  const threshold = run.threshold === null ? "" : ` · threshold ${run.threshold.toFixed(4)}`;
  document.getElementById("run-facts").textContent =
    `${run.detector} · ${run.modality}${threshold} · ${run.samples.length} samples (${run.split}) · ${run.source}`;
  if (run.kind === "fusion") { // predictions, not anomaly scores: no label or decision to filter by
    state.sortKey = "id";
    state.descending = false;
    document.getElementById("label-filter").hidden = true;
    document.getElementById("decision-filter").hidden = true;
  }
  const labels = document.getElementById("label-filter");
  for (const label of [...new Set(run.samples.map((row) => row.label))].sort()) {
    labels.append(el("option", { value: label }, label));
  }
  for (const id of ["filter", "label-filter", "decision-filter"]) {
    document.getElementById(id).addEventListener("input", renderTable);
  }
  renderTable();
  renderPlots();
  const wanted = /#sample=(\d+)/.exec(location.hash);
  if (wanted) await select(Number(wanted[1]));
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  document.getElementById("run-facts").textContent = `error: ${error.message}`;
  throw error;
});
