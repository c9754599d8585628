// The staff page: sign in with the admin token (kept in sessionStorage, sent only in the
// Authorization header), upload / replace / remove documents, reindex, follow the running job,
// and read the jobs, the audit log and what users did not find.
import { el, t } from "/static/common.js";
import { renderReport } from "/static/admin-report.js";

const TOKEN_KEY = "exporta.admin.token";
const POLL_MS = 1000;
const FINISHED = new Set(["succeeded", "failed", "interrupted"]);

const $ = (id) => document.getElementById(id);
const accessForm = $("acceso");
const accessStatus = $("acceso-estado");
const panel = $("panel");
const signOutButton = $("salir");
const jobStatus = $("trabajo-estado");
const progressBox = $("trabajo-avance");
const progressBar = $("progreso");
const progressText = $("progreso-texto");
const jobResult = $("trabajo-resultado");
const uploadForm = $("subir");
const uploadStatus = $("subir-estado");
const docsStatus = $("docs-estado");
const docsList = $("lista-docs");
const jobsList = $("lista-trabajos");
const auditBody = document.querySelector("#auditoria tbody");
const reportForm = $("informe-form");
const reportStatus = $("informe-estado");

let token = sessionStorage.getItem(TOKEN_KEY) ?? "";
let watching = null; // id of the job being polled

class ApiFailure extends Error {
  constructor(status, body) {
    const detail = body && typeof body.detail === "string" ? body.detail : t("server_error", { status });
    super(detail);
    this.status = status;
    this.body = body ?? {};
  }
}

/** An admin API call with the token; JSON back, or ApiFailure with the Spanish detail. */
async function call(method, url, body) {
  let response;
  try {
    response = await fetch(url, { method, body, headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new Error(t("network_error"));
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // an empty or non-JSON body: the status says enough
  }
  if (response.status === 401) {
    signOut(t("staff_token_rejected"));
  }
  if (!response.ok) throw new ApiFailure(response.status, data);
  return data;
}

function say(node, text, isError = false) {
  node.textContent = text;
  node.classList.toggle("error", isError);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString("es-PE", { dateStyle: "short", timeStyle: "medium" });
}

// Signing in and out

function signOut(reason = "") {
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  watching = null;
  panel.hidden = true;
  signOutButton.hidden = true;
  accessForm.hidden = false;
  say(accessStatus, reason, Boolean(reason));
  $("token").focus();
}

async function signIn(candidate) {
  token = candidate;
  say(accessStatus, t("staff_checking"));
  let jobs;
  try {
    jobs = await call("GET", "/api/admin/jobs");
  } catch (error) {
    if (error.status !== 401) say(accessStatus, error.message, true);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  accessForm.hidden = true;
  panel.hidden = false;
  signOutButton.hidden = false;
  say(accessStatus, "");
  showJobs(jobs);
  if (jobs.running) watch(jobs.running.id);
  else say(jobStatus, t("staff_no_job"));
  loadDocuments();
  loadAudit();
  loadReport();
}

accessForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  $("token").value = "";
  if (value) signIn(value);
});
signOutButton.addEventListener("click", () => signOut(t("staff_signed_out")));

// Jobs: start one, follow it, list the recent ones

/** Send a job request; on 202 follow the job, on 409 follow the job that is already running. */
async function startJob(method, url, body, statusNode) {
  say(statusNode, t("staff_sending"));
  try {
    const job = await call(method, url, body);
    say(statusNode, t("staff_job_started", { id: job.id }));
    watch(job.id).then(() => say(statusNode, "")); // the result shows under "Trabajo en curso"
    return true;
  } catch (error) {
    say(statusNode, error.message, true);
    if (error.status === 409 && error.body.job_id) watch(error.body.job_id);
    return false;
  }
}

async function watch(jobId) {
  watching = jobId;
  jobResult.hidden = true;
  while (watching === jobId) {
    let job;
    try {
      job = await call("GET", `/api/admin/jobs/${encodeURIComponent(jobId)}`);
    } catch (error) {
      say(jobStatus, error.message, true);
      return;
    }
    showProgress(job);
    if (FINISHED.has(job.state)) {
      watching = null;
      showResult(job);
      refreshAfterJob();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function showProgress(job) {
  progressBox.hidden = FINISHED.has(job.state);
  say(jobStatus, t("staff_job_line", { id: job.id, action: t(`staff_action_${job.action}`), state: t(`staff_state_${job.state}`) }));
  if (job.total > 0) {
    progressBar.max = job.total;
    progressBar.value = job.done;
    const parts = [job.progress]; // done, total, rate and time left, worded by the server
    if (job.current) parts.push(t("staff_current", { doc: job.current }));
    progressText.textContent = parts.join(" · ");
  } else {
    progressBar.removeAttribute("value"); // indeterminate until the total is known
    progressText.textContent = job.current ? t("staff_current", { doc: job.current }) : t("staff_preparing");
  }
}

function showResult(job) {
  const ok = job.state === "succeeded";
  const values = { action: t(`staff_action_${job.action}`), id: job.id, state: t(`staff_state_${job.state}`) };
  const heading = t(ok ? "staff_job_done" : "staff_job_not_done", values);
  say(jobStatus, heading, !ok);
  const children = [];
  if (job.summary) children.push(el("p", { text: job.summary }));
  if (job.errors?.length) {
    children.push(el("ul", { className: "errores" }, job.errors.map((e) => el("li", { text: `${e.file}: ${e.reason}` }))));
  }
  jobResult.replaceChildren(...children);
  jobResult.hidden = !children.length;
  jobResult.classList.toggle("error", !ok);
}

function refreshAfterJob() {
  loadDocuments();
  loadJobs();
  loadAudit();
}

async function loadJobs() {
  try {
    showJobs(await call("GET", "/api/admin/jobs"));
  } catch (error) {
    jobsList.replaceChildren(el("li", { className: "error", text: error.message }));
  }
}

function showJobs(data) {
  if (!data.jobs.length) {
    jobsList.replaceChildren(el("li", { className: "vacio", text: t("staff_no_jobs") }));
    return;
  }
  jobsList.replaceChildren(...data.jobs.map((job) => el("li", { className: `trabajo estado-${job.state}` }, [
    el("span", { className: "trabajo-cabecera", text: [t(`staff_action_${job.action}`), job.doc_ids.join(", "), t(`staff_state_${job.state}`)].filter(Boolean).join(" · ") }),
    el("span", { className: "doc-meta", text: [when(job.created_at), job.requested_by, job.id].join(" · ") }),
    ...(job.summary ? [el("span", { className: "trabajo-resumen", text: job.summary })] : []),
  ])));
}

// Uploading, replacing, removing, reindexing

uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = $("archivos").files;
  if (!files.length) {
    say(uploadStatus, t("staff_choose_files"), true);
    $("archivos").focus();
    return;
  }
  const button = $("subir-boton");
  button.disabled = true;
  const started = await startJob("POST", "/api/admin/documents", new FormData(uploadForm), uploadStatus);
  button.disabled = false;
  if (started) uploadForm.reset();
});

$("reindexar").addEventListener("click", () => {
  if (window.confirm(t("staff_confirm_reindex"))) startJob("POST", "/api/admin/reindex", undefined, docsStatus);
});

async function loadDocuments() {
  let data;
  try {
    const response = await fetch("/api/documents");
    data = await response.json();
    if (!response.ok) throw new Error(data?.detail ?? t("server_error", { status: response.status }));
  } catch (error) {
    docsList.replaceChildren();
    say(docsStatus, error instanceof TypeError ? t("network_error") : error.message, true);
    return;
  }
  say(docsStatus, data.documents.length ? t("documents", { count: data.documents.length }) : t("no_documents"));
  docsList.replaceChildren(...data.documents.map(documentItem));
}

function documentItem(doc) {
  const meta = [doc.doc_id, doc.kind, doc.year, doc.region, doc.source, t("staff_chunks", { count: doc.chunks }), when(doc.indexed_at)];
  const replaceForm = replaceFormFor(doc);
  const replaceButton = el("button", { className: "secundario", text: t("staff_replace"), attrs: { type: "button", "aria-expanded": "false", "aria-label": t("staff_replace_label", { title: doc.title }) } });
  replaceButton.addEventListener("click", () => {
    replaceForm.hidden = !replaceForm.hidden;
    replaceButton.setAttribute("aria-expanded", String(!replaceForm.hidden));
    if (!replaceForm.hidden) replaceForm.querySelector("input").focus();
  });
  const removeButton = el("button", { className: "peligro", text: t("staff_remove"), attrs: { type: "button", "aria-label": t("staff_remove_label", { title: doc.title }) } });
  removeButton.addEventListener("click", () => {
    if (window.confirm(t("staff_confirm_remove", { title: doc.title }))) {
      startJob("DELETE", `/api/admin/documents/${encodeURIComponent(doc.doc_id)}`, undefined, docsStatus);
    }
  });
  return el("li", { className: "doc", attrs: { "data-doc-id": doc.doc_id } }, [
    el("h3", { className: "doc-titulo", text: doc.title }),
    el("p", { className: "doc-meta", text: meta.filter((part) => part !== null && part !== undefined && part !== "").join(" · ") }),
    historyOf(doc),
    el("div", { className: "acciones" }, [replaceButton, removeButton]),
    replaceForm,
  ]);
}

function historyOf(doc) {
  const versions = doc.history ?? [];
  if (!versions.length) return el("p", { className: "doc-meta", text: t("staff_no_history") });
  return el("details", { className: "historial" }, [
    el("summary", { text: t("staff_history", { count: versions.length }) }),
    el("ol", {}, versions.map((v) => el("li", { text: t("staff_version", {
      action: t(`staff_version_${v.action}`), when: when(v.indexed_at), who: v.indexed_by, chunks: v.chunks, hash: (v.content_hash ?? "").slice(0, 12),
    }) }))),
  ]);
}

function replaceFormFor(doc) {
  const inputId = `reemplazo-${doc.doc_id}`;
  const input = el("input", { attrs: { id: inputId, name: "file", type: "file", required: "", accept: ".pdf,.txt,.md,application/pdf,text/plain,text/markdown" } });
  const status = el("p", { className: "estado", attrs: { role: "status", "aria-live": "polite" } });
  const form = el("form", { className: "reemplazo", attrs: { novalidate: "" } }, [
    el("label", { text: t("staff_new_version", { title: doc.title }), attrs: { for: inputId } }),
    input,
    el("div", { className: "acciones" }, [
      el("button", { text: t("staff_replace"), attrs: { type: "submit" } }),
      el("button", { className: "secundario", text: t("staff_cancel"), attrs: { type: "button", "data-cancelar": "" } }),
    ]),
    status,
  ]);
  form.hidden = true;
  form.querySelector("[data-cancelar]").addEventListener("click", () => {
    form.hidden = true;
    form.reset();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.files.length) {
      say(status, t("staff_choose_files"), true);
      return;
    }
    const body = new FormData(form);
    if (await startJob("PUT", `/api/admin/documents/${encodeURIComponent(doc.doc_id)}`, body, status)) form.reset();
  });
  return form;
}

// Audit log and usage report

async function loadAudit() {
  try {
    const data = await call("GET", "/api/admin/audit?limit=50");
    auditBody.replaceChildren(...data.entries.map((entry) => el("tr", { className: `resultado-${entry.result}` }, [
      entry.count > 1 ? `${when(entry.at)} – ${when(entry.last_at)}` : when(entry.at), entry.actor, label("action", entry.action), entry.target,
      entry.count > 1 ? `${label("result", entry.result)} ×${entry.count}` : label("result", entry.result), entry.detail,
    ].map((cell) => el("td", { text: cell ?? "" })))));
    if (!data.entries.length) auditBody.replaceChildren(el("tr", {}, [el("td", { text: t("staff_no_audit"), attrs: { colspan: 6 } })]));
  } catch (error) {
    auditBody.replaceChildren(el("tr", {}, [el("td", { className: "error", text: error.message, attrs: { colspan: 6 } })]));
  }
}

async function loadReport() {
  const since = $("desde").value;
  say(reportStatus, t("staff_loading_report"));
  try {
    const data = await call("GET", `/api/admin/report${since ? `?since=${encodeURIComponent(since)}` : ""}`);
    say(reportStatus, "");
    $("informe").replaceChildren(renderReport(data));
  } catch (error) {
    $("informe").replaceChildren();
    say(reportStatus, error.message, error.status !== 503);
  }
}

reportForm.addEventListener("submit", (event) => {
  event.preventDefault();
  loadReport();
});

if (token) signIn(token);
else $("token").focus();

/** An audit word in Spanish when the page knows it ("add" -> "Añadir"), else as recorded. */
function label(kind, word) {
  const keys = kind === "action" ? [`staff_action_${word}`] : [`staff_result_${word}`, `staff_state_${word}`];
  const key = keys.find((k) => t(k) !== k);
  return key ? t(key) : word;
}
