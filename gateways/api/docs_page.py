"""``/docs``: one self-contained HTML page that fetches ``/openapi.json`` and renders it (no CDN, no network).

The script and style are inline and allowed by their SHA-256 hashes in the page's Content-Security-Policy,
so the page runs under a policy that permits nothing else (no eval, no other origin).
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d2b3a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:6px 0 0;color:#c9d4df;white-space:pre-wrap}
main{max-width:1100px;margin:0 auto;padding:16px 28px 60px}
h2{margin:28px 0 8px;font-size:18px;text-transform:capitalize;border-bottom:1px solid #d5dae0;padding-bottom:4px}
details.op{background:#fff;border:1px solid #d5dae0;border-radius:6px;margin:8px 0}
details.op>summary{cursor:pointer;padding:9px 12px;list-style:none;display:flex;gap:12px;align-items:center}
.m{font:bold 12px monospace;padding:3px 7px;border-radius:4px;color:#fff;min-width:44px;text-align:center}
.GET{background:#2f7bbf}.POST{background:#2e9d62}.PUT{background:#b8862d}.DELETE{background:#c0392b}
.path{font-family:monospace;font-size:14px}.sum{color:#56606b}.lock{margin-left:auto;color:#8a5a00;font-size:12px}
.body{padding:4px 16px 14px;border-top:1px solid #eef0f3}.body p{white-space:pre-wrap}
table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border:1px solid #e1e5ea;padding:4px 8px;
text-align:left;vertical-align:top;font-size:13px}th{background:#f0f2f5}
pre{background:#0f1720;color:#d7e2ec;padding:10px;border-radius:5px;overflow:auto;font-size:12px}
.st{font:bold 13px monospace}.s2{color:#1d7a45}.s4{color:#a35a00}.s5{color:#b3261e}
code{background:#eef0f3;padding:1px 4px;border-radius:3px}#err{color:#b3261e}
"""

SCRIPT = """
"use strict";
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of [].concat(children || [])) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}
function resolve(doc, schema, depth) {
  if (!schema || typeof schema !== "object" || depth > 8) return schema;
  if (Array.isArray(schema)) return schema.map((s) => resolve(doc, s, depth + 1));
  if (typeof schema.$ref === "string") {
    const parts = schema.$ref.replace(/^#\\//, "").split("/");
    let target = doc;
    for (const part of parts) target = target && target[part];
    return resolve(doc, target, depth + 1);
  }
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = resolve(doc, v, depth + 1);
  return out;
}
function schemaBlock(doc, schema) {
  return el("pre", {}, JSON.stringify(resolve(doc, schema, 0), null, 2));
}
function render(doc) {
  document.title = doc.info.title;
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("desc").textContent = doc.info.description || "";
  const main = document.getElementById("ops");
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method.toUpperCase(), path, op]);
    }
  }
  for (const [tag, ops] of byTag) {
    main.append(el("h2", {}, tag));
    for (const [method, path, op] of ops) {
      const scopes = op["x-scopes"];
      const summary = el("summary", {}, [el("span", {class: "m " + method}, method), el("span", {class: "path"}, path),
        el("span", {class: "sum"}, op.summary || ""),
        el("span", {class: "lock"}, scopes ? "bearer: " + scopes.join(" | ") : "public")]);
      const body = el("div", {class: "body"});
      if (op.description) body.append(el("p", {}, op.description));
      if (op.parameters) {
        const rows = op.parameters.map((p) => el("tr", {}, [el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
          el("td", {}, p.required ? "yes" : "no"), el("td", {}, JSON.stringify(p.schema)),
          el("td", {}, p.description || "")]));
        body.append(el("h4", {}, "Parameters"), el("table", {}, [el("tr", {}, ["name", "in", "required", "schema",
          "description"].map((h) => el("th", {}, h)))].concat(rows)));
      }
      if (op.requestBody) {
        body.append(el("h4", {}, "Request body" + (op.requestBody.required ? " (required)" : "")));
        for (const [media, content] of Object.entries(op.requestBody.content)) {
          body.append(el("div", {}, el("code", {}, media)), schemaBlock(doc, content.schema));
        }
      }
      body.append(el("h4", {}, "Responses"));
      for (const [status, reply] of Object.entries(op.responses)) {
        const line = el("div", {}, [el("span", {class: "st s" + status[0]}, status), " " + reply.description]);
        if (reply.headers) line.append(" (headers: " + Object.keys(reply.headers).join(", ") + ")");
        body.append(line);
        if (reply.content) {
          for (const content of Object.values(reply.content)) {
            if (status[0] === "2") body.append(schemaBlock(doc, content.schema));
          }
        }
      }
      const details = el("details", {class: "op", id: op.operationId || ""}, [summary, body]);
      if (op.operationId && location.hash === "#" + op.operationId) details.open = true;
      main.append(details);
    }
  }
  main.append(el("h2", {}, "error object"), schemaBlock(doc, doc.components.schemas.Error));
}
fetch("/openapi.json", {headers: {Accept: "application/json"}})
  .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
  .then(render)
  .catch((e) => { document.getElementById("err").textContent = "Could not load /openapi.json: " + e.message; });
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Trivia platform API</title><style>{STYLE}</style></head>
<body><header><h1 id="title">Trivia platform API</h1><p id="desc"></p></header>
<main><p id="err"></p><p>The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops"></div></main>
<script>{SCRIPT}</script></body></html>
"""

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_csp_hash(SCRIPT)}; style-src {_csp_hash(STYLE)}; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
