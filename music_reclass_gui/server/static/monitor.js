// The monitoring page: totals and four charts from GET /api/stats (10-second buckets, last 10 minutes).
"use strict";
const $ = (id) => document.getElementById(id);

function chart(id, points, color, maxHint) {
  const canvas = $(id);
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const values = points.filter((v) => v !== null);
  const max = Math.max(maxHint || 0, ...values, 1e-9);
  const pad = 22;
  g.strokeStyle = "#e3e6eb"; g.fillStyle = "#667085"; g.font = "11px system-ui, sans-serif";
  for (const f of [0, 0.5, 1]) {
    const y = h - pad - f * (h - 2 * pad) + 0.5;
    g.beginPath(); g.moveTo(36, y); g.lineTo(w - 4, y); g.stroke();
    g.fillText((max * f).toFixed(max * f >= 10 ? 0 : 2), 2, y + 4);
  }
  g.fillText("−10 min", 36, h - 4); g.fillText("now", w - 26, h - 4);
  const step = (w - 40) / Math.max(1, points.length - 1);
  g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
  let started = false;
  points.forEach((v, i) => {
    if (v === null) { started = false; return; }
    const x = 36 + i * step, y = h - pad - (v / max) * (h - 2 * pad);
    if (!started) { g.moveTo(x, y); started = true; } else g.lineTo(x, y);
    g.fillStyle = color; g.fillRect(x - 1.5, y - 1.5, 3, 3);
  });
  g.stroke();
}

async function update() {
  try {
    const health = await api("/api/health");
    $("device").textContent = `${health.model} · ${health.device}`;
    const s = await api("/api/stats?bucket_s=10&n=60");
    const t = s.totals;
    const rows = s.timeline;
    const recent = rows.slice(-30).reduce((n, r) => n + r.tracks, 0);
    $("t-tracks").textContent = t.tracks_classified;
    $("t-rate").textContent = (recent / 5).toFixed(1) + " /min";
    $("t-mean").textContent = t.mean_seconds === null ? "–" : t.mean_seconds.toFixed(2) + " s";
    $("t-errors").textContent = t.errors_total;
    $("t-accept").textContent = pct(t.acceptance_rate);
    $("t-cache").textContent = t.cache_hits;
    $("t-queue").textContent = `${t.queue_length} / ${t.jobs_running}`;
    $("t-stream").textContent = t.stream_updates;
    chart("c-rate", rows.map((r) => (r.tracks * 60) / s.bucket_s), "#2f6fde");
    chart("c-time", rows.map((r) => r.mean_seconds), "#7a4fd6");
    chart("c-errors", rows.map((r) => (r.tracks + r.errors ? r.errors / (r.tracks + r.errors) : null)), "#d64545", 1);
    chart("c-accept", rows.map((r) => {
      const decided = r.accept + r.edit + r.reject;
      return decided ? r.accept / decided : null;
    }), "#1f9d55", 1);
    $("updated").textContent = "Updated " + new Date().toLocaleTimeString() + " · every 2 s";
  } catch (e) { $("updated").textContent = e.message; }
}

setupToken(update);
update();
setInterval(update, 2000);
