// The rekognition-emulator inspector: plain JavaScript, no build step, no dependency.
// Reads the JSON of /_emulator/ui/api/ (pages.py), /_emulator/jobs and /_emulator/faults.
"use strict";

const API = "/_emulator/ui/api";
const $ = (sel, root = document) => root.querySelector(sel);
const state = { last: 0, rows: [], selected: null, tab: "requests", jobs: [], job: null };

// -- small helpers ----------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

const pct = (x) => (x === undefined || x === null ? "" : `${Number(x).toFixed(1)}`);
const clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString([], { hour12: false });
const short = (id) => (id && id.length > 12 ? `${id.slice(0, 8)}…` : id || "");
const statusClass = (status) => (status >= 200 && status < 300 ? "status-ok" : "status-error");

// -- tabs and the address bar -----------------------------------------------------------------
function route() {
  const [tab, ...rest] = (location.hash.replace(/^#/, "") || "requests").split("/");
  state.tab = ["requests", "collections", "jobs", "faults"].includes(tab) ? tab : "requests";
  for (const section of document.querySelectorAll(".tab")) {
    section.hidden = section.id !== `tab-${state.tab}`;
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.tab === state.tab);
  }
  const arg = rest.map(decodeURIComponent);
  if (state.tab === "requests" && arg[0]) showRequest(Number(arg[0]));
  if (state.tab === "collections") {
    loadCollections();
    if (arg.length === 3) showCollection(arg[0], arg[1], arg[2]);
  }
  if (state.tab === "jobs") loadJobs(arg[0]);
  if (state.tab === "faults") loadFaults();
}
window.addEventListener("hashchange", route);

// -- the request list -------------------------------------------------------------------------
function matchesFilter(row) {
  const text = $("#request-filter").value.trim().toLowerCase();
  const status = $("#request-status").value;
  if (status === "ok" && !(row.status >= 200 && row.status < 300)) return false;
  if (status === "error" && row.status >= 200 && row.status < 300) return false;
  if (!text) return true;
  const hay = [row.service, row.operation, row.status, row.account, row.region, row.error || "",
    row.request_id].join(" ").toLowerCase();
  return text.split(/\s+/).every((word) => hay.includes(word));
}

function renderRequests() {
  const body = $("#requests tbody");
  body.replaceChildren(
    ...state.rows.filter(matchesFilter).map((row) =>
      el("tr", {
        "data-seq": row.seq,
        "data-operation": row.operation,
        class: row.seq === state.selected ? "selected" : "",
        onclick: () => { location.hash = `requests/${row.seq}`; },
      },
      el("td", { text: clock(row.at) }),
      el("td", {}, row.service === "Rekognition" ? row.operation : `${row.service} ${row.operation}`,
        row.fault ? el("span", { class: "fault-tag", text: `fault ${row.fault}` }) : null),
      el("td", { class: `status ${statusClass(row.status)}`, title: row.error || "", text: row.error ? `${row.status} ${row.error}` : row.status }),
      el("td", { text: row.ms.toFixed(1) }),
      el("td", { text: `${row.account} ${row.region}` })),
    ),
  );
}

async function pollRequests() {
  try {
    const data = await api(`${API}/requests?after=${state.last}`);
    $("#journal-off").hidden = data.enabled;
    if (data.requests.length) {
      state.last = data.requests[0].seq;
      state.rows = data.requests.concat(state.rows).slice(0, data.size || 500);
      renderRequests();
    }
    $("#live").classList.remove("stale");
  } catch (err) {
    $("#live").classList.add("stale");
  }
}

// -- one request: its image with what was found -----------------------------------------------
// Response members whose boxes are in the request's image. The faces of SearchFaces* matches,
// ListFaces and the like were found in other images (the collection's), so they are listed
// with their thumbnails instead.
const FACE_KEYS = new Set(["FaceDetails", "FaceRecords", "SourceImageFace", "UnmatchedFaces",
  "UnindexedFaces", "UnsearchedFaces", "CelebrityFaces", "UnrecognizedFaces",
  "SearchedFaceBoundingBox", "SearchedFace"]);
const ELSEWHERE = new Set(["Faces", "Users", "UserMatches"]);

function isBox(v) {
  return v && typeof v === "object" && "Width" in v && "Height" in v && "Left" in v && "Top" in v;
}

function kindOf(top, stack) {
  if (top === "TextDetections") {
    const detection = stack.find((o) => o.DetectedText !== undefined) || {};
    return detection.Type === "WORD" ? "word" : "line";
  }
  if (top === "Labels") return "label";
  if (top === "CustomLabels") return "custom";
  if (top === "Persons") return stack.some((o) => o.CoversBodyPart) ? "equipment" : "person";
  if (FACE_KEYS.has(top) || top === "FaceMatches") return "face";
  return "other";
}

function captionOf(top, stack) {
  let confidence;
  for (let i = stack.length - 1; i >= 0; i--) {
    if (confidence === undefined && stack[i].Confidence !== undefined) confidence = stack[i].Confidence;
  }
  const conf = confidence === undefined ? "" : ` ${pct(confidence)}`;
  for (let i = stack.length - 1; i >= 0; i--) {
    const o = stack[i];
    if (o.DetectedText !== undefined) return `${o.DetectedText}${conf}`;
    if (o.Similarity !== undefined) return `match ${pct(o.Similarity)}%`;
    if (o.Reasons) return `not ${top === "UnindexedFaces" ? "indexed" : "searched"}: ${o.Reasons.join(", ")}`;
    if (o.CoversBodyPart) {
      const part = stack.find((p) => p.EquipmentDetections);
      return `${o.Type}${part ? ` on ${part.Name}` : ""}${conf}`;
    }
    if (o.BodyParts) return `person ${o.Id ?? ""}${conf}`;
    if (o.Name) return `${o.Name}${conf}`;
    if (o.FaceId) return `face ${short(o.FaceId)}${conf}`;
    if (o.Face && o.Face.FaceId) return `face ${short(o.Face.FaceId)}${conf}`;
  }
  if (top === "SourceImageFace") return `source face${conf}`;
  if (top === "SearchedFaceBoundingBox") return "searched face";
  const detail = stack[stack.length - 1] || {};
  const age = detail.AgeRange ? ` ${detail.AgeRange.Low}-${detail.AgeRange.High}` : "";
  const gender = detail.Gender ? ` ${detail.Gender.Value}` : "";
  return `face${conf}${age}${gender}`;
}

// Shapes to draw: {image, kind, box | polygon, points, caption, dashed}.
function findShapes(operation, response, images) {
  const shapes = [];
  if (!response || typeof response !== "object" || !images.length) return shapes;
  const members = images.map((im) => im.member);
  const imageFor = (top) => {
    if (members.length === 1) return members[0];
    const named = members.find((m) => top.startsWith(m));
    return named || (members.includes("TargetImage") ? "TargetImage" : members[members.length - 1]);
  };
  const add = (top, stack, shape) => {
    const key = JSON.stringify([shape.box || shape.polygon, imageFor(top)]);
    const same = shapes.find((s) => s.key === key);
    if (same) { // IndexFaces: Face and FaceDetail carry one box; keep one shape
      if (shape.points && !same.points) same.points = shape.points;
      return;
    }
    const dashed = top.startsWith("Un") || ["equipment", "word"].includes(shape.kind);
    shapes.push({ key, image: imageFor(top), caption: captionOf(top, stack), dashed, ...shape });
  };
  const walk = (value, top, stack) => {
    if (Array.isArray(value)) { value.forEach((v) => walk(v, top, stack)); return; }
    if (!value || typeof value !== "object") return;
    const here = stack.concat([value]);
    if (Array.isArray(value.Polygon) && isBox(value.BoundingBox) && top === "TextDetections") {
      add(top, here, { kind: kindOf(top, here), polygon: value.Polygon });
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      if (isBox(v) && k.endsWith("BoundingBox")) {
        add(top, here, {
          kind: kindOf(top, here),
          box: v,
          points: Array.isArray(value.Landmarks) ? value.Landmarks : undefined,
        });
      } else if (k !== "Landmarks") {
        walk(v, top, here);
      }
    }
  };
  for (const [top, value] of Object.entries(response)) {
    if (ELSEWHERE.has(top) || (top === "FaceMatches" && operation !== "CompareFaces")) continue;
    if (isBox(value)) add(top, [response], { kind: "face", box: value });
    else walk(value, top, []);
  }
  return shapes;
}

// Findings without a box: labels of the whole image, moderation labels, matches elsewhere.
function findUnboxed(response, shapes) {
  const out = [];
  const drawn = new Set(shapes.map((s) => s.caption));
  for (const key of ["Labels", "ModerationLabels", "CustomLabels"]) {
    for (const item of response?.[key] || []) {
      const name = item.ParentName ? `${item.ParentName} / ${item.Name}` : item.Name;
      const text = `${name} ${pct(item.Confidence)}`;
      if (!(item.Instances || []).length && !drawn.has(text)) out.push({ kind: key === "Labels" ? "label" : "none", caption: text });
    }
  }
  return out;
}

function drawImage(figure, shapes) {
  const canvas = $(".canvas", figure);
  const overlay = svg("svg", { viewBox: "0 0 1 1", preserveAspectRatio: "none" });
  shapes.forEach((shape) => {
    let node;
    if (shape.polygon) {
      node = svg("polygon", { points: shape.polygon.map((p) => `${p.X},${p.Y}`).join(" ") });
    } else {
      const b = shape.box;
      node = svg("rect", { x: b.Left, y: b.Top, width: b.Width, height: b.Height });
    }
    node.setAttribute("class", `shape kind-${shape.kind}${shape.dashed ? " dashed" : ""}`);
    node.dataset.shape = shape.index;
    node.dataset.kind = shape.kind;
    overlay.append(node);
    const anchor = shape.box ? { X: shape.box.Left, Y: shape.box.Top }
      : shape.polygon.reduce((a, p) => (p.Y < a.Y ? p : a), shape.polygon[0]);
    canvas.append(el("span", {
      class: `caption kind-${shape.kind}`,
      style: `left:${anchor.X * 100}%;top:${anchor.Y * 100}%`,
      text: shape.caption,
    }));
    for (const p of shape.points || []) {
      canvas.append(el("span", { class: "dot", title: p.Type, style: `left:${p.X * 100}%;top:${p.Y * 100}%` }));
    }
  });
  canvas.append(overlay);
}

function highlight(index, on) {
  for (const node of document.querySelectorAll(`[data-shape="${index}"]`)) node.classList.toggle("hot", on);
}

function matchGallery(operation, response) {
  const matches = operation === "CompareFaces" ? [] : response?.FaceMatches || [];
  const users = response?.UserMatches || [];
  if (!matches.length && !users.length) return null;
  return el("div", {},
    el("h3", { text: "Matches in the collection" }),
    el("div", { class: "faces" },
      matches.map((m) => faceCard(m.Face.FaceId, [
        `${pct(m.Similarity)}%`, m.Face.ExternalImageId, m.Face.UserId ? `user ${m.Face.UserId}` : null,
      ], "match")),
      users.map((m) => el("div", { class: "face-card match" },
        el("div", { class: "no-thumb", text: "user" }),
        el("div", { text: `${pct(m.Similarity)}%` }),
        el("div", { class: "user-tag", text: m.User.UserId })))));
}

function faceCard(faceId, lines, extra = "") {
  const img = el("img", { src: `${API}/faces/${encodeURIComponent(faceId)}/thumbnail`, alt: faceId, loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(el("div", { class: "no-thumb", text: "no picture" })));
  return el("div", { class: `face-card ${extra}`, "data-face-id": faceId },
    img,
    el("div", { class: "id", title: faceId, text: faceId }),
    lines.filter(Boolean).map((line) => el("div", {}, line)));
}

async function showRequest(seq) {
  state.selected = seq;
  renderRequests();
  const pane = $("#request-detail");
  let entry;
  try {
    entry = await api(`${API}/requests/${seq}`);
  } catch (err) {
    pane.replaceChildren(el("p", { class: "error-text", text: err.message }));
    return;
  }
  if (state.selected !== seq) return;
  const response = entry.response;
  const images = (entry.images || []).filter((im) => im.kept);
  const shapes = findShapes(entry.operation, response, images);
  shapes.forEach((s, i) => { s.index = i; });
  const unboxed = findUnboxed(response, shapes);
  const error = response && response.__type
    ? el("p", { class: "error-text", text: `${response.__type}: ${response.message || ""}` }) : null;
  const figures = (entry.images || []).map((im) => {
    if (!im.kept) return el("figure", {}, el("figcaption", { text: `${im.member}: not kept (${im.why_not})` }));
    const src = `${API}/requests/${seq}/image?member=${encodeURIComponent(im.member)}`;
    const where = im.source === "s3" ? ` (s3://${im.s3.Bucket}/${im.s3.Name}, as it is now)` : "";
    const figure = el("figure", { "data-member": im.member },
      el("figcaption", { text: `${im.member}${where}` }),
      el("div", { class: "canvas" }, el("img", { src, alt: im.member })));
    const img = $("img", figure);
    img.addEventListener("load", () => { figure.dataset.loaded = "1"; });
    img.addEventListener("error", () => { figure.dataset.loaded = "error"; });
    drawImage(figure, shapes.filter((s) => s.image === im.member));
    return figure;
  });
  pane.replaceChildren(...[
    el("h2", {}, `${entry.service === "Rekognition" ? "" : `${entry.service} `}${entry.operation} `,
      el("span", { class: statusClass(entry.status), text: `${entry.status} ${entry.error || ""}` }),
      ` ${entry.ms.toFixed(1)} ms`),
    el("p", { class: "note", text: `${new Date(entry.at * 1000).toISOString()} · account ${entry.account} · ${entry.region}` +
      (entry.request_id ? ` · request ${entry.request_id}` : "") +
      (entry.fault ? ` · answered by fault rule ${entry.fault}` : "") }),
    error,
    figures.length ? el("div", { class: "images" }, figures) : null,
    shapes.length || unboxed.length ? el("h3", { text: `Found (${shapes.length} drawn)` }) : null,
    el("ul", { class: "findings" },
      shapes.map((s) => el("li", {
        "data-kind": s.kind,
        onmouseenter: () => highlight(s.index, true),
        onmouseleave: () => highlight(s.index, false),
      }, el("span", { class: `swatch kind-${s.kind}` }), s.caption)),
      unboxed.map((u) => el("li", { "data-kind": u.kind }, el("span", { class: `swatch kind-${u.kind}` }), u.caption))),
    matchGallery(entry.operation, response),
    entry.params ? el("h3", { text: "Request" }) : null,
    entry.params ? el("pre", { class: "params", text: JSON.stringify(entry.params, null, 2) }) : null,
    response !== null ? el("h3", { text: "Response" }) : null,
    response !== null ? el("pre", { class: "response", text: JSON.stringify(response, null, 2) }) : null,
  ].filter(Boolean));
}

// -- collections ------------------------------------------------------------------------------
async function loadCollections() {
  const q = $("#collection-filter").value.trim();
  const data = await api(`${API}/collections?q=${encodeURIComponent(q)}`).catch(() => ({ collections: [] }));
  $("#collections tbody").replaceChildren(...data.collections.map((c) =>
    el("tr", {
      "data-collection": c.collection_id,
      onclick: () => { location.hash = `collections/${[c.account, c.region, c.collection_id].map(encodeURIComponent).join("/")}`; },
    },
    el("td", { text: c.collection_id }), el("td", { text: c.face_count }),
    el("td", { text: c.user_count }), el("td", { text: `${c.account} ${c.region}` }))));
}

async function showCollection(account, region, id, q = "") {
  const pane = $("#collection-detail");
  const path = [account, region, id].map(encodeURIComponent).join("/");
  let c;
  try {
    c = await api(`${API}/collections/${path}?q=${encodeURIComponent(q)}`);
  } catch (err) {
    pane.replaceChildren(el("p", { class: "error-text", text: err.message }));
    return;
  }
  const search = el("input", { type: "search", id: "face-filter", placeholder: "FaceId, ImageId, ExternalImageId or UserId", value: q });
  search.addEventListener("change", () => showCollection(account, region, id, search.value.trim()));
  pane.replaceChildren(...[
    el("h2", { text: `${c.collection_id}` }),
    el("p", { class: "note", text: `${c.face_count} faces · ${c.user_count} users · ${c.account} ${c.region} · created ${c.created_at}` }),
    el("div", { class: "toolbar" }, search),
    el("div", { class: "faces", id: "collection-faces" }, c.faces.map((f) => faceCard(f.face_id, [
      f.external_image_id, f.user_id ? el("span", { class: "user-tag", text: `user ${f.user_id}` }) : null,
    ]))),
    c.more_faces ? el("p", { class: "note", text: "More faces than shown: search to narrow them." }) : null,
    el("h3", { text: "Users" }),
    c.users.length ? el("table", { id: "collection-users" },
      el("thead", {}, el("tr", {}, el("th", { text: "user" }), el("th", { text: "faces" }), el("th", { text: "status" }))),
      el("tbody", {}, c.users.map((u) => el("tr", { "data-user": u.user_id },
        el("td", { text: u.user_id }), el("td", { text: u.face_count }), el("td", { text: u.status })))))
      : el("p", { class: "note", text: "No users." }),
  ].filter(Boolean));
}

// -- jobs -------------------------------------------------------------------------------------
const seconds = (iso) => (iso ? Date.parse(iso) / 1000 : null);

async function loadJobs(selected) {
  const data = await api("/_emulator/jobs?limit=200").catch(() => ({ jobs: [] }));
  state.jobs = data.jobs;
  if (selected !== undefined) state.job = selected;
  drawJobs();
  const shown = state.jobs.find((j) => j.job_id === state.job);
  // Redraw the detail when asked to, or while the job still runs (not every second after).
  if (state.job && (selected !== undefined || !shown || ["QUEUED", "IN_PROGRESS"].includes(shown.status))) {
    showJob(state.job);
  }
}

function drawJobs() {
  const box = $("#jobs-timeline");
  const jobs = state.jobs.slice().reverse(); // oldest at the top
  if (!jobs.length) { box.replaceChildren(el("p", { class: "note", text: "No jobs yet." })); return; }
  const now = Date.now() / 1000;
  const start = Math.min(...jobs.map((j) => seconds(j.submitted_at)));
  const end = Math.max(...jobs.map((j) => seconds(j.finished_at) || now), start + 1);
  const width = 1000, labelW = 260, row = 22;
  const x = (t) => labelW + ((t - start) / (end - start)) * (width - labelW - 10);
  const chart = svg("svg", { class: "timeline", viewBox: `0 0 ${width} ${jobs.length * row + 24}` });
  jobs.forEach((job, i) => {
    const y = i * row + 4;
    const t0 = seconds(job.submitted_at), t1 = seconds(job.finished_at) || now;
    const g = svg("g", { class: `job-bar status-${job.status}${job.job_id === state.job ? " selected" : ""}`, "data-job-id": job.job_id });
    const name = svg("text", { x: 4, y: y + 13 });
    name.textContent = `${job.kind} ${short(job.job_id)} ${job.status}`;
    const w = Math.max(2, x(t1) - x(t0));
    g.append(name, svg("rect", { class: "track", x: x(t0), y, width: w, height: 14, rx: 2 }),
      svg("rect", { class: "done", x: x(t0), y, width: Math.max(1, w * (job.status === "SUCCEEDED" ? 1 : job.progress)), height: 14, rx: 2 }));
    const title = svg("title");
    title.textContent = `${job.kind} ${job.job_id}\n${job.status} ${Math.round(job.progress * 100)}%\nsubmitted ${job.submitted_at}\nfinished ${job.finished_at || "-"}`;
    g.append(title);
    g.addEventListener("click", () => { location.hash = `jobs/${job.job_id}`; });
    chart.append(g);
  });
  const axis = svg("text", { x: labelW, y: jobs.length * row + 18 });
  axis.textContent = `${new Date(start * 1000).toLocaleTimeString()} → ${(end - start).toFixed(1)} s`;
  chart.append(axis);
  box.replaceChildren(el("h2", { text: `Jobs (${jobs.length})` }), chart);
}

function itemName(item) {
  for (const key of Object.keys(item)) {
    if (key === "Timestamp" || key === "DurationMillis") continue;
    const v = item[key];
    if (v && typeof v === "object") return v.Name || v.DetectedText || (v.Index !== undefined ? `${key} ${v.Index}` : key);
  }
  return "item";
}

async function showJob(jobId) {
  const job = state.jobs.find((j) => j.job_id === jobId);
  const pane = $("#job-detail");
  const query = job ? `?account=${job.account}&region=${job.region}` : "";
  let data;
  try {
    data = await api(`${API}/jobs/${encodeURIComponent(jobId)}/results${query}`);
  } catch (err) {
    pane.replaceChildren(el("p", { class: "error-text", text: err.message }));
    return;
  }
  const timed = data.items.filter((it) => typeof it.Timestamp === "number");
  let chart = null;
  if (timed.length) {
    const names = [...new Set(timed.map(itemName))].slice(0, 24);
    const maxT = Math.max(...timed.map((it) => it.Timestamp), 1);
    const width = 1000, labelW = 200, row = 16;
    chart = svg("svg", { class: "timeline", id: "job-items", viewBox: `0 0 ${width} ${names.length * row + 24}` });
    names.forEach((name, i) => {
      const label = svg("text", { x: 4, y: i * row + 14 });
      label.textContent = name;
      chart.append(label);
    });
    for (const it of timed) {
      const i = names.indexOf(itemName(it));
      if (i < 0) continue;
      const mark = svg("rect", { class: "item-mark", x: labelW + (it.Timestamp / maxT) * (width - labelW - 10), y: i * row + 4, width: 3, height: 10 });
      const t = svg("title");
      t.textContent = `${itemName(it)} at ${it.Timestamp} ms`;
      mark.append(t);
      chart.append(mark);
    }
    const axis = svg("text", { x: labelW, y: names.length * row + 18 });
    axis.textContent = `0 → ${maxT} ms`;
    chart.append(axis);
  }
  const j = data.job;
  pane.replaceChildren(...[
    el("h2", { text: `${j.kind} ${j.job_id}` }),
    el("p", { class: "note", text: `${j.status} · ${Math.round(j.progress * 100)} % · ${j.result_items} result items · attempts ${j.attempts} · ${j.account} ${j.region}` +
      (j.status_message ? ` · ${j.status_message}` : "") }),
    chart ? el("h3", { text: "Results on the timeline" }) : null,
    chart,
    el("h3", { text: "Result" }),
    el("pre", { text: JSON.stringify(data.result, null, 2) }),
    el("h3", { text: `Items (${data.items.length}${data.more_items ? "+" : ""})` }),
    el("pre", { text: JSON.stringify(data.items.slice(0, 200), null, 2) }),
    el("h3", { text: "Job" }),
    el("pre", { text: JSON.stringify(j, null, 2) }),
  ].filter(Boolean));
}

// -- fault rules ------------------------------------------------------------------------------
async function loadFaults() {
  const data = await api("/_emulator/faults").catch(() => ({ rules: [] }));
  $("#faults tbody").replaceChildren(...data.rules.map((r) => el("tr", { "data-rule": r.id },
    el("td", { text: r.id }),
    el("td", { text: r.operation || "every operation" }),
    el("td", { text: `${r.account || "any"} ${r.region || "any"}` }),
    el("td", { text: [r.error, r.latency_ms ? `+${r.latency_ms} ms` : ""].filter(Boolean).join(" ") }),
    el("td", { text: `${r.count ?? "∞"} / ${r.probability ?? 1}` }),
    el("td", { text: `${r.fired} / ${r.seen}` }),
    el("td", {}, el("button", { text: "remove", onclick: async () => { await api(`/_emulator/faults/${r.id}`, { method: "DELETE" }); loadFaults(); } })))));
}

$("#fault-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const rule = {};
  for (const [k, v] of new FormData(event.target).entries()) {
    if (v === "") continue;
    rule[k] = ["latency_ms", "count", "probability"].includes(k) ? Number(v) : v;
  }
  try {
    await api("/_emulator/faults", { method: "POST", body: JSON.stringify(rule), headers: { "Content-Type": "application/json" } });
    $("#fault-error").textContent = "";
  } catch (err) {
    $("#fault-error").textContent = err.message;
  }
  loadFaults();
});
$("#faults-clear").addEventListener("click", async () => { await api("/_emulator/faults", { method: "DELETE" }); loadFaults(); });

// -- wiring -----------------------------------------------------------------------------------
$("#request-filter").addEventListener("input", renderRequests);
$("#request-status").addEventListener("change", renderRequests);
$("#request-clear").addEventListener("click", async () => {
  await api(`${API}/requests`, { method: "DELETE" });
  state.rows = [];
  renderRequests();
});
$("#collection-filter").addEventListener("input", loadCollections);

async function tick() {
  await pollRequests();
  if (state.tab === "jobs") await loadJobs();
  if (state.tab === "faults") await loadFaults();
  document.body.dataset.ready = "1";
  setTimeout(tick, 1000);
}

route();
tick();
