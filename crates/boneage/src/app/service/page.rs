//! The pages the service serves: the web page at `/` (plain HTML and JavaScript, no build step)
//! and `/docs`, which shows the OpenAPI description with a curl line per route.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("page.html");

/// `GET /`.
pub fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

/// `GET /docs`: every route of the OpenAPI description, its parameters, answers and a curl
/// line, rendered in the browser from `/openapi.json`.
pub fn docs() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], DOCS).into_response()
}

const DOCS: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>boneage API</title>
<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:1.5em auto;padding:0 1em;color:#222}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.5em 1em}.m{font-weight:700;color:#2d5fa8;margin-right:.5em}
pre{background:#f4f4f4;padding:.5em;overflow-x:auto}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}table{border-collapse:collapse}</style>
</head><body><h1>boneage API</h1><p id="desc"></p><div id="ops"></div>
<p><a href="/openapi.json">openapi.json</a> · <a href="/">web page</a></p>
<script>
"use strict";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
fetch("/openapi.json").then(r => r.json()).then(doc => {
  document.getElementById("desc").textContent = doc.info.description || "";
  let html = "";
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      html += `<div class="op"><p><span class="m">${method.toUpperCase()}</span><code>${esc(path)}</code></p><p>${esc(op.description || op.summary || "")}</p>`;
      const body = op.requestBody && op.requestBody.content && op.requestBody.content["multipart/form-data"];
      if (body) {
        const ref = body.schema.$ref ? body.schema.$ref.split("/").pop() : null;
        const schema = ref ? doc.components.schemas[ref] : body.schema;
        html += "<table><tr><th>form field</th><th>type</th><th>what</th></tr>";
        for (const [k, v] of Object.entries(schema.properties || {})) {
          html += `<tr><td>${esc(k)}</td><td>${esc(v.format || v.type || "")}</td><td>${esc(v.description || "")}</td></tr>`;
        }
        html += "</table>";
      }
      html += "<table><tr><th>status</th><th>meaning</th></tr>";
      for (const [code, r] of Object.entries(op.responses || {})) html += `<tr><td>${esc(code)}</td><td>${esc(r.description)}</td></tr>`;
      html += "</table>";
      const example = method === "post"
        ? `curl -F image=@hand.png -F sex=F -F chronological_age_months=120 ${location.origin}${path}`
        : `curl ${location.origin}${path}`;
      html += `<pre>${esc(example)}</pre></div>`;
    }
  }
  document.getElementById("ops").innerHTML = html;
});
</script></body></html>
"#;
