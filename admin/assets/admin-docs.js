// Renders the management API's OpenAPI document (/admin/v1/openapi.json): operations grouped
// by tag, each with its method, path, who may call it, parameters, request body and responses.
// Everything is written with textContent, never as HTML, so nothing in the document can run.
"use strict";

const DOCUMENT = "/admin/v1/openapi.json";
const METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// The schema a `$ref` points to, inside the same document.
function resolve(doc, schema) {
  if (!schema || !schema.$ref || !schema.$ref.startsWith("#/")) return schema;
  return schema.$ref.slice(2).split("/").reduce((at, key) => (at ? at[key] : undefined), doc) || schema;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "any";
  return schema.format ? `${type} (${schema.format})` : type;
}

function parameters(op) {
  if (!op.parameters || op.parameters.length === 0) return null;
  const rows = op.parameters.map((p) =>
    el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, schemaName(p.schema)),
      el("td", {}, p.required ? "required" : "optional"), el("td", {}, p.description || "")));
  return el("div", {}, el("strong", {}, "Parameters"),
    el("table", {}, el("tr", {}, ...["name", "in", "type", "", "description"].map((h) => el("th", {}, h))), ...rows));
}

function requestBody(doc, op) {
  const body = op.requestBody;
  if (!body) return null;
  const [type, content] = Object.entries(body.content || {})[0] || ["", {}];
  const schema = resolve(doc, content.schema);
  return el("div", {}, el("strong", {}, "Request body"), " ", el("code", {}, type), body.required ? " (required)" : "",
    el("p", {}, body.description || (schema && schema.description) || ""));
}

function responses(doc, op) {
  const rows = Object.entries(op.responses || {}).map(([status, response]) => {
    const content = Object.values(response.content || {})[0] || {};
    return el("tr", {}, el("td", {}, el("code", {}, status)), el("td", {}, response.description || ""),
      el("td", {}, schemaName(content.schema)));
  });
  return el("div", {}, el("strong", {}, "Responses"), el("table", {}, ...rows));
}

function operation(doc, path, method, op) {
  const upper = method.toUpperCase();
  const access = op["x-sluice-access"];
  const who = typeof access === "string" ? access : access ? `workgroup ${access.workgroupRole}` : "";
  return el("details", {},
    el("summary", {}, el("span", { class: `method ${upper}` }, upper), path, el("span", { class: "access" }, who)),
    el("div", { class: "body" }, el("p", {}, op.description || ""), parameters(op), requestBody(doc, op),
      responses(doc, op)));
}

function schemas(doc) {
  const all = (doc.components && doc.components.schemas) || {};
  return Object.entries(all).map(([name, schema]) =>
    el("div", {}, el("strong", {}, name), el("pre", {}, JSON.stringify(schema, null, 2))));
}

function render(doc) {
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("description").textContent = doc.info.description || "";
  const groups = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(operation(doc, path, method, op));
    }
  }
  const main = document.getElementById("operations");
  for (const [tag, ops] of groups) main.append(el("h2", {}, tag), ...ops);
  main.append(el("h2", {}, "Schemas"), ...schemas(doc));
}

fetch(DOCUMENT)
  .then((response) => {
    if (!response.ok) throw new Error(`${DOCUMENT} answered ${response.status}`);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    document.getElementById("error").textContent = `Cannot show the document: ${error.message}`;
  });
