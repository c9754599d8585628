// The chat page: asks /api/ask/stream, shows the answer as it arrives, with cited sources.
import { el, errorDetail, fold, highlighted, location, passageUrl, queryStems, t } from "/static/common.js";

const STORAGE_KEY = "exporta.conversacion";
// Turns sent with a question: as many as the service keeps (retrieval/service.py).
const HISTORY_TURNS = Number(t("history_turns"));

const form = document.getElementById("formulario");
const input = document.getElementById("pregunta");
const sendButton = document.getElementById("enviar");
const newButton = document.getElementById("nueva");
const turns = document.getElementById("turnos");
const status = document.getElementById("estado");
const welcome = document.getElementById("bienvenida");

let conversation = loadConversation(); // answers (the API's JSON) of this conversation
let busy = false;
let votesOffered = true; // false once the server says it keeps no votes

function loadConversation() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "[]");
    return Array.isArray(saved) ? saved : [];
  } catch {
    return [];
  }
}

function saveConversation() {
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(conversation));
  } catch {
    // storage full or disabled: the conversation just won't survive a reload
  }
}

function setStatus(text) {
  status.textContent = text;
}

// -- rendering ------------------------------------------------------------------------------

/** A new conversation turn: the question, and an answer area waiting for the stream. */
function addTurn(question) {
  const waiting = el("p", { className: "espera", text: t("waiting") }, []);
  waiting.prepend(el("span", { className: "indicador", attrs: { "aria-hidden": "true" } }));
  const answer = el("div", { className: "texto-respuesta" });
  const answerBox = el("div", { className: "respuesta", attrs: { "aria-live": "polite", "aria-busy": "true" } }, [
    el("h3", { className: "rol", text: t("assistant") }),
    waiting,
    answer,
  ]);
  const sources = el("section", { className: "fuentes", attrs: { hidden: "" } });
  const item = el("li", { className: "turno" }, [
    el("div", { className: "pregunta" }, [
      el("h2", { className: "rol", text: t("you") }),
      el("p", { className: "texto-pregunta", text: question }),
    ]),
    answerBox,
    sources,
  ]);
  turns.append(item);
  welcome.hidden = true;
  return { item, answerBox, waiting, answer, sources, question, byNumber: new Map() };
}

/** Answer text with each [n] turned into a link to that source's passage. */
function appendAnswerText(view, text) {
  for (const part of text.split(/(\[\d+\])/)) {
    const match = /^\[(\d+)\]$/.exec(part);
    const source = match && view.byNumber.get(Number(match[1]));
    if (source) {
      const citation = [source.title, location(source)].filter(Boolean).join(", ");
      view.answer.append(
        el("a", {
          className: "cita",
          text: part,
          attrs: {
            href: passageUrl(source.doc_id, source.chunk_id, view.question),
            title: citation,
            "aria-label": t("source_label", { n: source.n, citation }),
          },
        }),
      );
    } else if (part) {
      view.answer.append(document.createTextNode(part));
    }
  }
}

/** Excerpt of a long passage around the first highlighted word. */
function excerpt(text, stems, size = 480) {
  if (text.length <= size) return text;
  const folded = fold(text);
  let at = -1;
  for (const stem of stems) {
    const i = folded.indexOf(stem);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  const start = Math.max(0, Math.min(at - 120, text.length - size));
  const cut = text.slice(start, start + size);
  return `${start > 0 ? "… " : ""}${cut}${start + size < text.length ? " …" : ""}`;
}

function renderSources(view, sources, abstained) {
  view.byNumber = new Map(sources.map((s) => [s.n, s]));
  view.sources.replaceChildren();
  if (!sources.length) return;
  const stems = queryStems(view.question);
  const heading = el("h3", { text: abstained ? t("nearest_sources") : t("sources") });
  const list = el("ol", { className: "tarjetas" });
  for (const source of sources) {
    const url = passageUrl(source.doc_id, source.chunk_id, view.question);
    list.append(
      el("li", { className: "tarjeta" }, [
        el("p", { className: "tarjeta-cabecera" }, [
          el("span", { className: "numero", text: `[${source.n}]` }),
          " ",
          el("strong", { className: "titulo", text: source.title }),
          el("span", { className: "ubicacion", text: location(source) }),
        ]),
        el("blockquote", { className: "pasaje" }, [highlighted(excerpt(source.text, stems), stems)]),
        el("a", { className: "ver-pasaje", text: t("open_passage"), attrs: { href: url } }),
      ]),
    );
  }
  view.sources.append(heading, list);
  view.sources.hidden = false;
}

function renderAnswer(view, answer) {
  renderSources(view, answer.sources, answer.abstained);
  view.answer.replaceChildren();
  appendAnswerText(view, answer.answer);
  finish(view, answer.abstained);
  // `question_id` (even null) comes only from a server that keeps votes.
  if (votesOffered && "question_id" in answer) view.answerBox.after(voteBar(answer));
}

// -- 👍/👎 ----------------------------------------------------------------------------------

/** What identifies a source in a vote (the passage text stays on the server). */
function sourceRef({ n, doc_id, chunk_id, title, page, section }) {
  return { n, doc_id, chunk_id, title, page, section };
}

/** "¿Te sirvió esta respuesta?" with 👍 Útil / 👎 No útil; one vote per answer. */
function voteBar(answer) {
  const note = el("p", { className: "voto-estado", attrs: { role: "status", "aria-live": "polite" } });
  const button = (vote, emoji, label) =>
    el("button", { className: "voto", attrs: { type: "button", "aria-pressed": String(answer.vote === vote), "data-vote": vote } }, [
      el("span", { text: emoji, attrs: { "aria-hidden": "true" } }),
      ` ${t(label)}`,
    ]);
  const buttons = [button(1, "👍", "vote_up"), button(-1, "👎", "vote_down")];
  const bar = el("div", { className: "votos", attrs: { role: "group", "aria-label": t("vote_question") } }, [
    el("span", { className: "voto-pregunta", text: t("vote_question"), attrs: { "aria-hidden": "true" } }),
    ...buttons,
    note,
  ]);
  const settle = () => {
    for (const b of buttons) b.disabled = true;
    note.textContent = t("vote_thanks");
  };
  if (answer.vote) settle();
  for (const b of buttons) {
    b.addEventListener("click", () => sendVote(answer, Number(b.dataset.vote), { bar, buttons, note, settle }));
  }
  return bar;
}

async function sendVote(answer, vote, { bar, buttons, note, settle }) {
  for (const b of buttons) b.disabled = true;
  note.classList.remove("error");
  note.textContent = t("vote_sending");
  try {
    const response = await fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        question: answer.question,
        answer: answer.answer,
        vote,
        sources: answer.sources.map(sourceRef),
        question_id: answer.question_id ?? null,
      }),
    });
    if (!response.ok) {
      const detail = await errorDetail(response);
      if (response.status === 503) {
        votesOffered = false; // this server keeps no votes: stop offering them
        for (const other of document.querySelectorAll(".votos")) {
          if (other !== bar) other.remove();
        }
        for (const b of buttons) b.hidden = true;
      } else {
        for (const b of buttons) b.disabled = false;
      }
      note.classList.add("error");
      note.textContent = detail;
      return;
    }
    answer.vote = vote;
    saveConversation();
    for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.vote) === vote));
    settle();
  } catch {
    for (const b of buttons) b.disabled = false;
    note.classList.add("error");
    note.textContent = t("vote_error");
  }
}

function finish(view, abstained = false) {
  view.waiting.remove();
  view.answerBox.setAttribute("aria-busy", "false");
  view.item.classList.toggle("abstencion", abstained);
}

function showError(view, text) {
  view.answer.replaceChildren(el("p", { className: "error", text, attrs: { role: "alert" } }));
  finish(view);
}

// -- asking ---------------------------------------------------------------------------------

/** Server-Sent Events parsed from a fetch body: yields {event, data}. */
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function ask(question) {
  busy = true;
  sendButton.disabled = true;
  const view = addTurn(question);
  setStatus(t("waiting"));
  view.item.scrollIntoView({ block: "nearest" });
  const history = conversation.slice(-HISTORY_TURNS).map((a) => ({ question: a.question, answer: a.answer }));
  let answer = null;
  let connected = false;
  try {
    const response = await fetch("/api/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, history }),
    });
    if (!response.ok) {
      const detail = await errorDetail(response);
      showError(view, detail);
      setStatus(detail);
      input.value = question;
      return;
    }
    connected = true;
    for await (const { event, data } of readEvents(response)) {
      if (event === "sources") {
        renderSources(view, data, false);
        view.waiting.lastChild.textContent = t("composing");
        setStatus(t("composing"));
      } else if (event === "token") {
        appendAnswerText(view, data.text);
      } else if (event === "done") {
        answer = data;
        renderAnswer(view, answer);
      } else if (event === "error") {
        showError(view, data.detail);
        setStatus(data.detail);
        input.value = question;
        return;
      }
    }
    if (!answer) throw new Error("stream ended without done");
    conversation.push(answer);
    saveConversation();
    setStatus(answer.abstained ? t("abstained") : t("done"));
  } catch {
    const text = connected ? t("dropped") : t("network_error");
    showError(view, text);
    setStatus(text);
    input.value = question;
  } finally {
    busy = false;
    sendButton.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value;
  if (busy || !question.trim()) {
    input.focus();
    return;
  }
  input.value = "";
  ask(question).finally(() => input.focus());
});

// Enter sends, Shift+Enter adds a line (the usual chat convention).
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

for (const button of document.querySelectorAll(".ejemplo")) {
  button.addEventListener("click", () => {
    input.value = button.textContent.trim();
    form.requestSubmit();
  });
}

newButton.addEventListener("click", () => {
  if (busy) return; // let the answer on its way land in the conversation it belongs to
  conversation = [];
  saveConversation();
  turns.replaceChildren();
  welcome.hidden = false;
  setStatus(t("cleared"));
  input.focus();
});

// -- documents list and restoring the conversation -------------------------------------------

async function loadDocuments() {
  const summary = document.getElementById("documentos-titulo");
  const list = document.getElementById("lista-documentos");
  try {
    const response = await fetch("/api/documents");
    if (!response.ok) {
      const detail = await errorDetail(response);
      summary.textContent = t("no_documents");
      list.replaceChildren(el("li", { className: "error", text: detail }));
      if (response.status === 503) setStatus(detail);
      return;
    }
    const { documents } = await response.json();
    summary.textContent = t("documents", { count: documents.length });
    list.replaceChildren(
      ...documents.map((d) =>
        el("li", {}, [
          el("span", { className: "doc-titulo", text: d.title }),
          el("span", { className: "doc-meta", text: [d.kind, d.year, d.region].filter(Boolean).join(" · ") }),
        ]),
      ),
    );
  } catch {
    summary.textContent = t("no_documents");
  }
}

for (const answer of conversation) {
  renderAnswer(addTurn(answer.question), answer);
}
loadDocuments();
