// nucleoforge serve: the page's logic (no framework; the plot is uPlot, vendored). Apache-2.0.
"use strict";
const $ = (id) => document.getElementById(id);
const KEYS = ["AG", "AL", "DG", "DL"];
let current = null, chart = null;  // SpliceAI's answer and plot
let pcurrent = null, pchart = null;  // Pangolin's
let PANGOLIN = false;  // whether this server has Pangolin (/health), set once at start
const VARIANT_COLOR = "#2a2", EXON_COLOR = "#999";
const AXIS_FONT = "12px system-ui, -apple-system, sans-serif";  // the axes' font, also used to measure labels
const fmtPos = (v) => v.toLocaleString();

/** Width in CSS pixels of `text` in the axes' font. */
function labelWidth(text) {
  const ctx = (labelWidth.canvas ||= document.createElement("canvas")).getContext("2d");
  ctx.font = AXIS_FONT;
  return ctx.measureText(text).width;
}

function params() {
  const mask = document.querySelector('input[name="mask"]:checked').value;
  return new URLSearchParams({ variant: $("variant").value.trim(), hg: $("hg").value,
                               distance: $("distance").value, mask });
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

/** The JSON of `api`; an Error with the server's message when it answers an error. */
async function fetchJson(api) {
  const response = await fetch(api);
  const data = await response.json();
  if (!response.ok || data.error) throw new Error(data.error || response.statusText);
  return data;
}

async function lookup(event) {
  if (event) event.preventDefault();
  const p = params();
  history.replaceState(null, "", "/?" + p.toString());  // the permalink of this query
  setStatus("scoring " + p.get("variant") + " …");
  $("result").hidden = true;
  const api = "/spliceai/?" + p.toString() + "&tracks=1";
  const papi = "/pangolin/?" + p.toString() + "&tracks=1";
  // both models at once: the server's one worker batches them
  const [s, g] = await Promise.allSettled([fetchJson(api), PANGOLIN ? fetchJson(papi) : Promise.resolve(null)]);
  if (s.status === "rejected" && (!PANGOLIN || g.status === "rejected")) {
    setStatus(s.reason.message, true);
    return;
  }
  showError("spliceai", s.status === "rejected" ? s.reason.message : "");
  if (PANGOLIN) showError("pangolin", g.status === "rejected" ? g.reason.message : "");
  $("permalink").href = location.pathname + location.search;
  $("result").hidden = false;
  if (s.status === "fulfilled") { current = s.value; render(current, api); }
  if (PANGOLIN && g.status === "fulfilled") { pcurrent = g.value; renderPangolin(pcurrent, papi); }
  summary(s.status === "fulfilled" ? s.value : g.value);
  setStatus("");
}

/** A model's error in its own column (the other model may have answered); "" clears it. */
function showError(model, message) {
  $(model + "-error").textContent = message;
  $(model + "-error").hidden = !message;
  $(model + "-result").hidden = !!message;
}

function summary(data) {
  $("summary").textContent = `${data.chrom}:${data.pos} ${data.ref}>${data.alt} · genome ${data.genomeVersion} · ` +
    `distance ${data.distance} · ${data.mask ? "masked" : "raw"} scores · ${data.source}`;
}

function render(data, api) {
  const body = $("scores").querySelector("tbody");
  body.innerHTML = "";
  data.scores.forEach((row, i) => {
    const tr = document.createElement("tr");
    tr.dataset.index = i;
    const values = KEYS.map((k) => parseFloat(row["DS_" + k]));
    const best = Math.max(...values.filter((v) => !isNaN(v)));
    const cells = [row.g_name, row.t_id || "–", row.t_strand]
      .map((t) => `<td>${t}</td>`)
      .concat(KEYS.map((k, j) => `<td class="ds${values[j] === best && best > 0 ? " max" : ""}" data-key="DS_${k}">${row["DS_" + k]}</td>`))
      .concat(KEYS.map((k) => `<td data-key="DP_${k}">${row["DP_" + k] ?? "."}</td>`));
    tr.innerHTML = cells.join("");
    tr.addEventListener("click", () => select(i));
    body.appendChild(tr);
  });
  $("json").href = api;
  $("csv").href = URL.createObjectURL(new Blob([csv(data)], { type: "text/csv" }));
  select(0);
}

function csv(data) {
  const head = ["variant", "genome", "distance", "mask", "gene", "transcript", "strand"]
    .concat(KEYS.map((k) => "DS_" + k), KEYS.map((k) => "DP_" + k));
  const rows = data.scores.map((r) => [data.variant, data.genomeVersion, data.distance, data.mask, r.g_name, r.t_id, r.t_strand]
    .concat(KEYS.map((k) => r["DS_" + k]), KEYS.map((k) => r["DP_" + k])));
  return [head].concat(rows).map((r) => r.join(",")).join("\n") + "\n";
}

function select(i) {
  document.querySelectorAll("#scores tbody tr").forEach((tr) => tr.classList.toggle("selected", +tr.dataset.index === i));
  const row = current.scores[i];
  $("plot-title").textContent = `REF vs ALT probabilities · ${row.g_name}${row.t_id ? " " + row.t_id : ""} (${row.t_strand})`;
  if (chart) { chart.destroy(); chart = null; }
  chart = drawPlot($("plot"), current, row, row.REF_ACCEPTOR &&
    [row.REF_ACCEPTOR, row.ALT_ACCEPTOR, row.REF_DONOR, row.ALT_DONOR], SPLICEAI_SERIES);
}

// ------------------------------------------------------------------------------ Pangolin's column
const PKEYS = ["SG", "SL"];
const PTRACKS = ["SG_REF", "SG_ALT", "SL_REF", "SL_ALT"];

function renderPangolin(data, api) {
  const body = $("pangolin-scores").querySelector("tbody");
  body.innerHTML = "";
  data.scores.forEach((row, i) => {
    const tr = document.createElement("tr");
    tr.dataset.index = i;
    const values = PKEYS.map((k) => Math.abs(parseFloat(row["DS_" + k])));
    const best = Math.max(...values.filter((v) => !isNaN(v)));
    const cells = [row.g_name, row.t_strand].map((t) => `<td>${t}</td>`)
      .concat(PKEYS.map((k, j) => `<td class="ds${values[j] === best && best > 0 ? " max" : ""}" data-key="DS_${k}">${row["DS_" + k] ?? "."}</td>`))
      .concat(PKEYS.map((k) => `<td data-key="DP_${k}">${row["DP_" + k] ?? "."}</td>`))
      .concat([`<td data-key="WARNINGS">${row.WARNINGS || ""}</td>`]);
    tr.innerHTML = cells.join("");
    tr.addEventListener("click", () => selectPangolin(i));
    body.appendChild(tr);
  });
  $("pangolin-json").href = api;
  $("pangolin-csv").href = URL.createObjectURL(new Blob([pangolinCsv(data)], { type: "text/csv" }));
  selectPangolin(0);
}

function pangolinCsv(data) {
  const head = ["variant", "genome", "distance", "mask", "gene", "strand", "DS_SG", "DS_SL", "DP_SG", "DP_SL", "ENTRY"];
  const rows = data.scores.map((r) => [data.variant, data.genomeVersion, data.distance, data.mask, r.g_name, r.t_strand,
    r.DS_SG, r.DS_SL, r.DP_SG, r.DP_SL, r.ENTRY]);
  return [head].concat(rows).map((r) => r.join(",")).join("\n") + "\n";
}

function selectPangolin(i) {
  document.querySelectorAll("#pangolin-scores tbody tr").forEach((tr) => tr.classList.toggle("selected", +tr.dataset.index === i));
  const row = pcurrent.scores[i];
  $("pangolin-plot-title").textContent = `REF vs ALT probabilities · ${row.g_name} (${row.t_strand})`;
  if (pchart) { pchart.destroy(); pchart = null; }
  pchart = drawPlot($("pangolin-plot"), pcurrent, row, row.tracks && PTRACKS.map((k) => row.tracks[k]), PANGOLIN_SERIES);
}

// ------------------------------------------------------------------------------------- the plots
const SPLICEAI_SERIES = [
  { label: "REF acceptor", stroke: "#1f77b4", width: 1.5 },
  { label: "ALT acceptor", stroke: "#1f77b4", dash: [6, 4], width: 2 },
  { label: "REF donor", stroke: "#d62728", width: 1.5 },
  { label: "ALT donor", stroke: "#d62728", dash: [6, 4], width: 2 }];
const PANGOLIN_SERIES = [
  { label: "REF (gain tissue)", stroke: "#9467bd", width: 1.5 },
  { label: "ALT (gain tissue)", stroke: "#9467bd", dash: [6, 4], width: 2 },
  { label: "REF (loss tissue)", stroke: "#ff7f0e", width: 1.5 },
  { label: "ALT (loss tissue)", stroke: "#ff7f0e", dash: [6, 4], width: 2 }];

/** uPlot chart of four tracks of `row` (positions data.pos - data.distance …) in `target`, with the
 *  variant and the row's exon boundaries as vertical lines; null (and a note) without tracks. */
function drawPlot(target, data, row, tracks, series) {
  target.innerHTML = "";
  if (!tracks) { target.textContent = "no per-position scores for this entry"; return null; }
  const lo = data.pos - data.distance;
  const x = tracks[0].map((_, j) => lo + j);
  const hi = x[x.length - 1];
  const bounds = row.EXON_STARTS.map((s) => s - 0.5).concat(row.EXON_ENDS.map((e) => e + 0.5))
    .filter((b) => b >= lo - 0.5 && b <= hi + 0.5);
  const none = x.map(() => null);  // the variant and exon-boundary series: drawn by the hook, listed in the legend
  const columns = PANGOLIN ? 2 : 1;  // side by side when both models are shown
  const opts = {
    width: Math.min(1050, Math.floor((window.innerWidth - 60 * columns) / columns)), height: 320,
    // room right of the plot for half of the widest x label, centred on the last tick
    padding: [null, Math.ceil(labelWidth(fmtPos(hi)) / 2) + 8, null, null],
    scales: { x: { time: false }, y: { range: [0, 1] } },
    // ticks at least one label apart (plus a gap), so that narrower side-by-side plots do not overlap them
    axes: [{ label: "position", font: AXIS_FONT, space: Math.ceil(labelWidth(fmtPos(hi))) + 16,
             values: (u, splits) => splits.map(fmtPos) },
           { label: "probability", font: AXIS_FONT }],
    series: [{ label: "position", value: (u, v) => (v == null ? "--" : fmtPos(v)) }, ...series,
      { label: "variant", stroke: VARIANT_COLOR, width: 2,
        value: () => `${fmtPos(data.pos)} ${data.ref}>${data.alt}` },
      { label: "exon boundary", stroke: EXON_COLOR, dash: [3, 3], width: 1, value: () => `${bounds.length} in view` }],
    hooks: { draw: [(u) => {  // exon boundaries and the variant (hidden when their legend entry is clicked off)
      const ctx = u.ctx; ctx.save();
      const top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      const line = (pos, color, dash, width) => {
        const w = Math.round(width * uPlot.pxRatio);  // in canvas pixels; an odd width is centred on a pixel
        const px = Math.round(u.valToPos(pos, "x", true)) + (w % 2 ? 0.5 : 0);
        ctx.strokeStyle = color; ctx.lineWidth = w;
        ctx.setLineDash(dash.map((d) => d * uPlot.pxRatio));
        ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
      };
      if (u.series[6].show) bounds.forEach((b) => line(b, EXON_COLOR, [3, 3], 1));
      if (u.series[5].show) line(data.pos, VARIANT_COLOR, [], 2);
      ctx.restore();
    }] },
  };
  const made = new uPlot(opts, [x, ...tracks, none, none], target);
  target.dataset.ready = "1";
  return made;
}

async function init() {
  const health = await (await fetch("/health")).json();
  Object.keys(health.genomes).forEach((g) => $("hg").add(new Option("hg" + g, g)));
  PANGOLIN = !!health.pangolin;
  if (PANGOLIN) {  // both models' tables and plots, side by side
    document.body.classList.add("two-models");
    $("pangolin-col").hidden = false;
    $("pangolin-legend").hidden = false;
    document.querySelectorAll(".model-name").forEach((h) => { h.hidden = false; });
    document.querySelector("h1").firstChild.textContent = "SpliceAI and Pangolin lookup ";
  }
  $("distance").max = health.max_distance;
  const q = new URLSearchParams(location.search);
  if (q.get("variant")) {  // a permalink: fill the form and run it
    $("variant").value = q.get("variant");
    if (q.get("hg")) $("hg").value = q.get("hg");
    if (q.get("distance")) $("distance").value = q.get("distance");
    document.querySelector(`input[name="mask"][value="${q.get("mask") === "1" ? 1 : 0}"]`).checked = true;
    lookup();
  }
  $("query").addEventListener("submit", lookup);
}
init();
