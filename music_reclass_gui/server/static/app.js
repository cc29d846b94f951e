// The review page: add files (drop/upload) or a library folder, watch the classification job, decide each
// proposal, apply (journaled tag writes) and undo. Talks only to the JSON API.
"use strict";
const state = { job: null, editing: null, items: [], operations: [], shown: "" };
const $ = (id) => document.getElementById(id);

function say(text, kind = "") { const m = $("message"); m.textContent = text; m.className = kind; }

async function init() {
  try {
    const health = await api("/api/health");
    $("device").textContent = `${health.model} · ${health.device}` + (health.auth ? " · token" : "");
    const models = await api("/api/models");
    $("model").replaceChildren(...models.models.map((m) =>
      el("option", { value: m.name, selected: m.name === models.default }, m.name)));
    const libs = await api("/api/libraries");
    const options = [el("option", { value: "" }, "— a folder of a served library —")];
    for (const lib of libs.libraries) {
      options.push(el("option", { value: lib.path }, lib.path));
      for (const f of lib.folders) options.push(el("option", { value: lib.path + "/" + f }, "  " + lib.path + "/" + f));
    }
    $("folder").replaceChildren(...options);
    await refresh();
  } catch (e) { say(e.message, "error"); }
}

// --- adding tracks --------------------------------------------------------------------------------------
async function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const f of files) form.append("file", f, f.name);
  form.append("model", $("model").value);
  say(`Uploading ${files.length} file(s)…`);
  try {
    const out = await api("/api/review/upload", { method: "POST", body: form });
    if (out.not_audio && out.not_audio.length) say(`Not audio: ${out.not_audio.join(", ")}`, "error");
    else say(`Added ${out.added} file(s); classifying…`);
    follow(out.job);
  } catch (e) { say(e.message, "error"); }
}

async function openFolder() {
  const folder = $("folder").value;
  if (!folder) { say("Pick a folder first.", "error"); return; }
  try {
    const out = await api("/api/review/open", { method: "POST", json: { folder, model: $("model").value } });
    say(`Found ${out.added} audio file(s) in ${folder}; classifying…`);
    follow(out.job);
  } catch (e) { say(e.message, "error"); }
}

// --- the job --------------------------------------------------------------------------------------------
function follow(jobId) {
  if (!jobId) { refresh(); return; }
  state.job = jobId;
  $("cancel").disabled = false;
  poll();
}

async function poll() {
  if (!state.job) return;
  try {
    const job = await api(`/api/jobs/${state.job}`);
    const done = job.processed + job.failed;
    const total = Math.max(job.total_files, done);
    $("bar").style.width = total ? `${(100 * done) / total}%` : "0";
    $("progress-text").textContent = `${job.state}: ${done}/${job.total_files}` + (job.failed ? ` (${job.failed} failed)` : "");
    await refresh();
    if (["done", "cancelled", "failed"].includes(job.state)) {
      state.job = null;
      $("cancel").disabled = true;
      if (job.state === "done") say(`Classified ${job.processed} file(s)` + (job.failed ? `, ${job.failed} failed.` : "."), job.failed ? "error" : "ok");
      else say(job.state === "cancelled" ? "Cancelled." : `Failed: ${job.error}`, job.state === "failed" ? "error" : "");
      return;
    }
  } catch (e) { say(e.message, "error"); }
  setTimeout(poll, 600);
}

async function cancelJob() {
  if (state.job) await api(`/api/jobs/${state.job}`, { method: "DELETE" }).catch((e) => say(e.message, "error"));
}

// --- the table ------------------------------------------------------------------------------------------
async function refresh() {
  const data = await api("/api/review");
  state.items = data.items;
  state.operations = data.operations;
  $("apply").disabled = !(data.counts.accepted > 0);
  $("apply").textContent = data.counts.accepted ? `Apply (${data.counts.accepted})` : "Apply";
  $("undo").disabled = !data.operations.length;
  $("empty").style.display = data.items.length ? "none" : "";
  // re-draw only when something changed, so a row is never replaced under the user's click
  const shown = JSON.stringify(data.items);
  if (state.editing === null && shown !== state.shown) { state.shown = shown; render(); }
}

function bars(item) {
  const threshold = Number($("threshold").value) / 100;
  return el("div", { class: "bars" }, item.predictions.slice(0, 3).map((p) =>
    el("div", { class: "bar" + (p.confidence >= threshold ? " high" : ""), title: `${p.genre} ${pct(p.confidence)}` },
      el("span", { style: `width:${Math.round(p.confidence * 100)}%` }),
      el("em", {}, `${p.genre} ${pct(p.confidence)}`))));
}

function render() {
  const rows = state.items.map((item) => {
    const decide = (action, genres) => async () => {
      try {
        await api("/api/review/decide", { method: "POST", json: { path: item.path, action, genres } });
        await refresh();
      } catch (e) { say(e.message, "error"); }
    };
    const edit = () => {
      state.editing = item.path;
      const input = el("input", { type: "text", value: item.proposed.join("; "), list: "genres-" + item.name });
      const list = el("datalist", { id: "genres-" + item.name }, item.predictions.map((p) => el("option", { value: p.genre })));
      const finish = async (save) => {
        state.editing = null;
        if (save) await decide("edit", input.value.split(";").map((g) => g.trim()).filter(Boolean))();
        else render();
      };
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") finish(true); if (ev.key === "Escape") finish(false); });
      const cell = document.querySelector(`tr[data-path="${CSS.escape(item.path)}"] td.proposed`);
      cell.replaceChildren(input, list, el("button", { onclick: () => finish(true) }, "Save"));
      input.focus();
    };
    const open = item.decidable;
    return el("tr", { "data-path": item.path },
      el("td", { class: "file", "data-label": "File" }, item.name),
      el("td", { "data-label": "On disk" }, item.current_genres.join("; ") || el("span", { class: "muted" }, "—")),
      el("td", { class: "proposed", "data-label": "Proposed" }, item.proposed.join("; ") || "—",
        item.why && item.status === "classified" ? el("div", { class: "why" }, item.why) : ""),
      el("td", { "data-label": "Top 3" }, item.predictions.length ? bars(item) : (item.reason || "…")),
      el("td", { "data-label": "Status" }, el("span", { class: "status " + item.status, title: item.reason || "" }, item.status)),
      el("td", { class: "actions" },
        el("button", { class: "accept", title: "Accept (write on Apply)", disabled: !open, onclick: decide("accept") }, "✓ Accept"),
        el("button", { class: "edit", title: "Choose or type the genre", disabled: !open, onclick: edit }, "✎"),
        el("button", { class: "reject", title: "Keep the file as it is", disabled: item.status === "written", onclick: decide("reject") }, "✕")));
  });
  document.querySelector("#items tbody").replaceChildren(...rows);
}

// --- writing --------------------------------------------------------------------------------------------
async function acceptAbove() {
  try {
    const out = await api("/api/review/accept-above", { method: "POST", json: { threshold: Number($("threshold").value) / 100 } });
    say(`Accepted ${out.accepted.length} proposal(s).`);
    await refresh();
  } catch (e) { say(e.message, "error"); }
}

async function apply() {
  $("apply").disabled = true;
  try {
    const out = await api("/api/review/apply", { method: "POST" });
    if (out.failed.length) say(`Wrote ${out.written} file(s); ${out.failed.length} failed: ${out.failed.map((f) => f.error).join("; ")}`, "error");
    else say(`Wrote genres to ${out.written} file(s). Undo restores the previous tags.`, "ok");
  } catch (e) { say(e.message, "error"); }
  await refresh();
}

async function undo() {
  try {
    const out = await api("/api/review/undo", { method: "POST", json: {} });
    say(`Undone: ${out.restored} file(s) restored.`, out.failed.length ? "error" : "ok");
  } catch (e) { say(e.message, "error"); }
  await refresh();
}

async function clearList() {
  await api("/api/review/clear", { method: "POST" }).catch((e) => say(e.message, "error"));
  say("");
  await refresh();
}

// --- wiring ---------------------------------------------------------------------------------------------
const drop = $("drop");
drop.addEventListener("click", () => $("files").click());
drop.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") $("files").click(); });
$("files").addEventListener("change", (ev) => { upload([...ev.target.files]); ev.target.value = ""; });
for (const name of ["dragenter", "dragover"]) drop.addEventListener(name, (ev) => { ev.preventDefault(); drop.classList.add("over"); });
for (const name of ["dragleave", "drop"]) drop.addEventListener(name, () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => { ev.preventDefault(); upload([...ev.dataTransfer.files]); });
$("open").addEventListener("click", openFolder);
$("cancel").addEventListener("click", cancelJob);
$("accept-above").addEventListener("click", acceptAbove);
$("apply").addEventListener("click", apply);
$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearList);
$("threshold").addEventListener("input", () => { if (state.editing === null) render(); });
setupToken(init);
init();
