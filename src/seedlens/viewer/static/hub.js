// The hub's web interface: sign in with a token, list and filter samples, open one with its scans and predictions.
import { SliceViewer, el } from "./slices.js";

const TOKEN_KEY = "seedlens-hub-token";
const state = { cursors: [null], page: 0, where: "", limit: 50, models: new Map() };

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${token()}` } });
  if (response.status === 401) { signOut("your token was refused: sign in again"); throw new Error("unauthorised"); }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (_) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return response;
}
const getJson = async (path) => (await api(path)).json();
const getBitmap = async (path) => createImageBitmap(await (await api(path)).blob());

function show(id) {
  for (const section of ["sign-in", "list", "sample"]) document.getElementById(section).hidden = section !== id;
  document.getElementById("sign-out").hidden = id === "sign-in";
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("sign-in-error").textContent = message;
  show("sign-in");
}

async function signIn(event) {
  event.preventDefault();
  const value = document.getElementById("token").value.trim();
  const response = await fetch("/api/v1/info", { headers: { Authorization: `Bearer ${value}` } });
  if (!response.ok) {
    document.getElementById("sign-in-error").textContent =
      response.status === 401 ? "this token is not valid (or was revoked)" : `sign-in failed: ${response.status}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  document.getElementById("token").value = "";
  await start();
}

const quote = (text) => `"${String(text).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const sampleHash = (s) => `#/sample/${encodeURIComponent(s.project)}/${encodeURIComponent(s.sample_id)}`;

async function loadPage() {
  const error = document.getElementById("list-error");
  error.textContent = "";
  const params = new URLSearchParams({ limit: String(state.limit), count: "true" });
  if (state.where) params.set("where", state.where);
  const cursor = state.cursors[state.page];
  if (cursor) params.set("cursor", cursor);
  let page;
  try {
    page = await getJson(`/api/v1/samples?${params}`);
  } catch (err) {
    error.textContent = err.message;
    return;
  }
  state.cursors[state.page + 1] = page.next_cursor;
  const head = el("tr");
  for (const name of ["project", "sample", "species", "genotype", "lot", "split", "germination", "scans", "traits"]) {
    head.append(el("th", {}, name));
  }
  const table = document.getElementById("samples");
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...page.items.map((s) => {
    const row = el("tr", { "data-sample": s.sample_id, onclick: () => { location.hash = sampleHash(s); } });
    const scans = s.acquisitions.map((a) => a.modality).join(", ");
    for (const value of [s.project, s.sample_id, s.species, s.genotype, s.lot, s.split, s.germination, scans,
                         Object.keys(s.traits).length]) {
      row.append(el("td", {}, value === null || value === undefined ? "–" : String(value)));
    }
    return row;
  }));
  const first = state.page * state.limit;
  document.getElementById("page-facts").textContent = page.items.length
    ? `${first + 1}–${first + page.items.length} of ${page.total} samples` : `no sample matches (${page.total})`;
  document.getElementById("previous").disabled = state.page === 0;
  document.getElementById("next").disabled = !page.next_cursor;
  document.body.dataset.ready = "list";
}

function fields(sample) {
  const list = document.getElementById("sample-fields");
  list.replaceChildren();
  const add = (name, value) => list.append(el("dt", {}, name), el("dd", {}, value));
  for (const name of ["project", "species", "genotype", "lot", "harvest", "split", "germination"]) {
    if (sample[name] !== null && sample[name] !== undefined) add(name, String(sample[name]));
  }
  if (sample.tags.length) add("tags", sample.tags.join(", "));
  for (const [name, value] of Object.entries(sample.traits)) add(name, String(value));
}

async function download(acquisition) {
  const blob = await (await api(`/api/v1/blobs/${acquisition.blob}`)).blob();
  const link = el("a", { href: URL.createObjectURL(blob),
                         download: `${acquisition.source_name.split("/").pop() || acquisition.blob}` +
                                   (acquisition.kind === "tar" ? ".tar" : "") });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function viewerUrls(sample, acquisition, model) {
  const base = `/api/v1/samples/${encodeURIComponent(sample.sample_id)}/acquisitions/${acquisition.blob}`;
  const project = `project=${encodeURIComponent(sample.project)}`;
  const plane = (axis, index) => `plane=${index}` + (axis === null ? "" : `&axis=${axis}`);
  return {
    scan: (axis, index, band) => `${base}/scan.png?${project}&${plane(axis, index)}` +
      (band === null ? "" : `&band=${band}`),
    heat: model ? (axis, index) => `${base}/heatmaps/${model}.png?${project}&${plane(axis, index)}` : null,
    mask: null,
    spectrum: (y, x) => `${base}/spectrum?${project}&y=${y}&x=${x}`,
    colourBar: "/ui/colour-bar.png",
  };
}

async function addViewer(container, sample, acquisition, model) {
  const box = el("div", { class: "viewer" });
  container.append(box);
  const query = `project=${encodeURIComponent(sample.project)}` + (model ? `&model=${model}` : "");
  try {
    const layout = await getJson(`/api/v1/samples/${encodeURIComponent(sample.sample_id)}/acquisitions/` +
                                 `${acquisition.blob}/layout?${query}`);
    return new SliceViewer(box, layout, viewerUrls(sample, acquisition, model), getBitmap, getJson);
  } catch (err) {
    box.append(el("p", { class: "error" }, `cannot show this scan: ${err.message}`));
    return null;
  }
}

async function openSample(project, sampleId) {
  show("sample");
  document.body.dataset.ready = "loading";
  const sample = await getJson(`/api/v1/samples/${encodeURIComponent(sampleId)}?project=${encodeURIComponent(project)}`);
  document.getElementById("sample-title").textContent = `${sample.sample_id} (${sample.project})`;
  fields(sample);
  const predictions = await getJson(`/api/v1/predictions?where=${encodeURIComponent(`sample_id = ${quote(sampleId)}`)}` +
                                    `&project=${encodeURIComponent(project)}`);
  const acquisitions = document.getElementById("acquisitions");
  acquisitions.replaceChildren();
  window.viewers = [];
  for (const acquisition of sample.acquisitions) {
    const facts = [acquisition.modality, acquisition.shape.join(" × "), acquisition.dtype,
                   acquisition.spacing ? `voxel ${acquisition.spacing.map((s) => s.toPrecision(3)).join(" × ")} mm` : null,
                   acquisition.source_name || null, acquisition.device || null].filter(Boolean);
    const block = el("div", { class: "prediction acquisition" }, el("p", {}, facts.join(" · ")));
    if (acquisition.parent) {
      const parent = acquisition.parent;
      const region = parent.region ? ` at ${parent.region.map(([a, b]) => `${a}:${b}`).join(", ")}` : "";
      block.append(el("p", { class: "facts" }, "cut out of ",
                      el("a", { href: sampleHash({ project: sample.project, sample_id: parent.sample_id }) },
                         parent.sample_id), region));
    }
    block.append(el("button", { type: "button", class: "download", onclick: () => download(acquisition) },
                    `download (${(acquisition.size / 1048576).toFixed(1)} MiB)`));
    acquisitions.append(block);
    window.viewers.push(await addViewer(block, sample, acquisition, null));
  }
  const list = document.getElementById("predictions");
  list.replaceChildren();
  if (!predictions.length) list.append(el("p", { class: "facts" }, "no predictions stored for this sample"));
  for (const prediction of predictions) {
    const model = state.models.get(prediction.model);
    const name = model ? `${model.name || model.uid} (${model.modality || "?"})` : prediction.model;
    const threshold = model && model.metrics && model.metrics.threshold;
    const verdict = threshold === undefined ? "" : prediction.score >= threshold ? " · called anomalous"
                                                                                 : " · called normal";
    const block = el("div", { class: "prediction", "data-model": prediction.model },
                     el("p", {}, `${name} · score ${prediction.score.toFixed(4)}${verdict}`));
    list.append(block);
    const acquisition = sample.acquisitions.find((a) => a.blob === prediction.blob) || sample.acquisitions[0];
    if (prediction.heatmap && acquisition) {
      window.viewers.push(await addViewer(block, sample, acquisition, prediction.model));
    }
  }
  document.body.dataset.ready = "sample";
}

async function route() {
  if (!token()) { show("sign-in"); document.body.dataset.ready = "sign-in"; return; }
  const match = /^#\/sample\/([^/]+)\/(.+)$/.exec(location.hash);
  if (match) {
    await openSample(decodeURIComponent(match[1]), decodeURIComponent(match[2]));
  } else {
    show("list");
    await loadPage();
  }
}

async function start() {
  const info = await getJson("/api/v1/info");
  document.getElementById("hub-facts").textContent =
    `${info.samples ?? "?"} samples · ${(info.projects || []).length} project(s)`;
  for (const model of await getJson("/api/v1/models")) state.models.set(model.uid, model);
  await route();
}

document.getElementById("sign-in").addEventListener("submit", signIn);
document.getElementById("sign-out").addEventListener("click", () => signOut());
document.getElementById("filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.where = document.getElementById("where").value.trim();
  state.limit = Number(document.getElementById("page-size").value);
  state.cursors = [null];
  state.page = 0;
  loadPage();
});
document.getElementById("next").addEventListener("click", () => { state.page += 1; loadPage(); });
document.getElementById("previous").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); loadPage(); });
window.addEventListener("hashchange", () => route());
if (token()) start().catch((err) => { document.getElementById("hub-facts").textContent = err.message; });
else route();
