// The passage view: /documentos/{doc_id}?q=pregunta#chunk-{chunk_id} shows that chunk between
// its neighbours, with the question's words highlighted.
import { el, errorDetail, highlighted, location, passageUrl, queryStems, t } from "/static/common.js";

const docId = decodeURIComponent(window.location.pathname.split("/")[2] ?? "");
const question = new URLSearchParams(window.location.search).get("q") ?? "";
const stems = queryStems(question);

const title = document.getElementById("titulo-documento");
const meta = document.getElementById("meta-documento");
const status = document.getElementById("estado");
const passages = document.getElementById("pasajes");
const previousLink = document.getElementById("anterior");
const nextLink = document.getElementById("siguiente");

function chunkFromHash() {
  const hash = window.location.hash;
  return hash.startsWith("#chunk-") ? decodeURIComponent(hash.slice("#chunk-".length)) : "";
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(await errorDetail(response));
  return response.json();
}

function passageArticle(passage, role) {
  const cited = role === "cited";
  const label = cited ? t("passage_cited") : t("context");
  return el(
    "article",
    { className: cited ? "pasaje-doc citado" : "pasaje-doc contexto", attrs: { id: `chunk-${passage.chunk_id}`, tabindex: cited ? "-1" : undefined } },
    [
      el("h2", { className: "pasaje-etiqueta", text: [label, location(passage)].filter(Boolean).join(" · ") }),
      el("p", { className: "pasaje-texto" }, [highlighted(passage.text, cited ? stems : [])]),
    ],
  );
}

function setNavigation(link, passage, text) {
  link.hidden = !passage;
  if (passage) {
    link.textContent = text;
    link.href = passageUrl(docId, passage.chunk_id, question);
  }
}

async function show() {
  status.textContent = t("loading_passage");
  status.classList.remove("error");
  try {
    const info = await getJson(`/api/documents/${encodeURIComponent(docId)}`);
    const chunkId = chunkFromHash() || info.first_chunk_id;
    const context = await getJson(
      `/api/documents/${encodeURIComponent(docId)}/chunks/${encodeURIComponent(chunkId)}`,
    );
    title.textContent = info.title;
    document.title = `${info.title} · Exporta`;
    meta.textContent = [info.kind, info.year, info.region, info.source].filter(Boolean).join(" · ");
    const articles = [];
    if (context.previous) articles.push(passageArticle(context.previous, "context"));
    const cited = passageArticle(context.chunk, "cited");
    articles.push(cited);
    if (context.next) articles.push(passageArticle(context.next, "context"));
    passages.replaceChildren(...articles);
    setNavigation(previousLink, context.previous, t("previous"));
    setNavigation(nextLink, context.next, t("next"));
    status.textContent = "";
    cited.scrollIntoView({ block: "start" });
    cited.focus({ preventScroll: true });
  } catch (error) {
    passages.replaceChildren();
    previousLink.hidden = nextLink.hidden = true;
    status.textContent = error instanceof TypeError ? t("network_error") : error.message;
    status.classList.add("error");
  }
}

window.addEventListener("hashchange", show);
show();
