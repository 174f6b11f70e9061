// nucleoforge serve: the page's logic (no framework; the plot is uPlot, vendored). Apache-2.0.
"use strict";
const $ = (id) => document.getElementById(id);
const KEYS = ["AG", "AL", "DG", "DL"];
let current = null, chart = null;
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

async function lookup(event) {
  if (event) event.preventDefault();
  const p = params();
  history.replaceState(null, "", "/?" + p.toString());  // the permalink of this query
  setStatus("scoring " + p.get("variant") + " …");
  $("result").hidden = true;
  const api = "/spliceai/?" + p.toString() + "&tracks=1";
  let data;
  try {
    const response = await fetch(api);
    data = await response.json();
    if (!response.ok || data.error) throw new Error(data.error || response.statusText);
  } catch (err) {
    setStatus(err.message, true);
    return;
  }
  current = data;
  render(data, api);
  setStatus("");
}

function render(data, api) {
  $("summary").textContent = `${data.chrom}:${data.pos} ${data.ref}>${data.alt} · genome ${data.genomeVersion} · ` +
    `distance ${data.distance} · ${data.mask ? "masked" : "raw"} scores · ${data.source}`;
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
  $("permalink").href = location.pathname + location.search;
  $("json").href = api;
  $("csv").href = URL.createObjectURL(new Blob([csv(data)], { type: "text/csv" }));
  $("result").hidden = false;
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
  $("plot").innerHTML = "";
  if (!row.REF_ACCEPTOR) { $("plot").textContent = "no per-position scores for this entry"; return; }
  const lo = current.pos - current.distance;
  const x = row.REF_ACCEPTOR.map((_, j) => lo + j);
  const hi = x[x.length - 1];
  const bounds = row.EXON_STARTS.map((s) => s - 0.5).concat(row.EXON_ENDS.map((e) => e + 0.5))
    .filter((b) => b >= lo - 0.5 && b <= hi + 0.5);
  const none = x.map(() => null);  // the variant and exon-boundary series: drawn by the hook, listed in the legend
  const opts = {
    width: Math.min(1050, window.innerWidth - 60), height: 320,
    // room right of the plot for half of the widest x label, centred on the last tick
    padding: [null, Math.ceil(labelWidth(fmtPos(hi)) / 2) + 8, null, null],
    scales: { x: { time: false }, y: { range: [0, 1] } },
    axes: [{ label: "position", font: AXIS_FONT, values: (u, splits) => splits.map(fmtPos) },
           { label: "probability", font: AXIS_FONT }],
    series: [{ label: "position", value: (u, v) => (v == null ? "--" : fmtPos(v)) },
      { label: "REF acceptor", stroke: "#1f77b4", width: 1.5 },
      { label: "ALT acceptor", stroke: "#1f77b4", dash: [6, 4], width: 2 },
      { label: "REF donor", stroke: "#d62728", width: 1.5 },
      { label: "ALT donor", stroke: "#d62728", dash: [6, 4], width: 2 },
      { label: "variant", stroke: VARIANT_COLOR, width: 2,
        value: () => `${fmtPos(current.pos)} ${current.ref}>${current.alt}` },
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
      if (u.series[5].show) line(current.pos, VARIANT_COLOR, [], 2);
      ctx.restore();
    }] },
  };
  chart = new uPlot(opts, [x, row.REF_ACCEPTOR, row.ALT_ACCEPTOR, row.REF_DONOR, row.ALT_DONOR, none, none], $("plot"));
  $("plot").dataset.ready = "1";
}

async function init() {
  const health = await (await fetch("/health")).json();
  Object.keys(health.genomes).forEach((g) => $("hg").add(new Option("hg" + g, g)));
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
