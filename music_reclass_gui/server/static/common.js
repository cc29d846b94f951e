// Shared by the review and monitoring pages: fetch with the Bearer token (asked for on a 401).
"use strict";
const TOKEN_KEY = "music-reclass-token";

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    document.getElementById("tokenbox").classList.add("show");
    throw new Error("this server needs a token: enter it above");
  }
  let data = null;
  const text = await response.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
  if (!response.ok) {
    const detail = data && data.detail;
    const msg = typeof detail === "string" ? detail : JSON.stringify(detail);
    throw new Error(`${response.status}: ${msg}`);
  }
  return data;
}

function setupToken(onSaved) {
  const box = document.getElementById("tokenbox");
  const input = document.getElementById("token");
  document.getElementById("token-save").addEventListener("click", () => {
    localStorage.setItem(TOKEN_KEY, input.value.trim());
    box.classList.remove("show");
    onSaved();
  });
}

function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + " %"; }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
