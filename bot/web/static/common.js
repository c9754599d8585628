// Helpers shared by the chat page and the passage view.
// Text from documents or users only ever reaches the page through textContent / text nodes.

const TEXTS = JSON.parse(document.getElementById("textos").textContent);

/** A page text from messages.toml, with {name} placeholders filled in. */
export function t(key, values = {}) {
  const template = TEXTS[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** A new element with optional class, text and attributes; children are appended as nodes. */
export function el(tag, { className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

/** Lower case, without accents: "Exportación" -> "exportacion". */
export function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

// Function words never worth highlighting (accent-folded): the server's list (retrieval/text.py).
const STOPWORDS = new Set((TEXTS.stopwords ?? "").split(" "));

const WORD = /[\p{L}\p{N}]+/gu;

/** Rough stems of the question's content words ("capacitarse" -> "capacit"): a word of the
 * passage is highlighted when it starts with one of them ("capacitados"). */
export function queryStems(question) {
  const stems = new Set();
  for (const [word] of fold(question ?? "").matchAll(WORD)) {
    if (word.length < 4 || STOPWORDS.has(word)) continue;
    stems.add(word.slice(0, Math.max(4, Math.min(word.length - 2, 7))));
  }
  return [...stems];
}

/** `text` as a fragment of text nodes, with words matching the stems wrapped in <mark>. */
export function highlighted(text, stems) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  if (stems.length) {
    for (const match of text.matchAll(WORD)) {
      const word = fold(match[0]);
      if (!stems.some((stem) => word.startsWith(stem))) continue;
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      fragment.append(el("mark", { text: match[0] }));
      last = match.index + match[0].length;
    }
  }
  fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

/** Where a passage is, for people: "p. 12 · 3. Objetivos" (page and/or section). */
export function location(passage) {
  const parts = [];
  if (passage.page !== null && passage.page !== undefined) {
    parts.push(t("page", { page: passage.page_label || passage.page }));
  }
  if (passage.section) parts.push(passage.section);
  return parts.join(" · ");
}

/** The passage view of a source, highlighting the question's words there too. */
export function passageUrl(docId, chunkId, question) {
  const query = question ? `?q=${encodeURIComponent(question)}` : "";
  return `/documentos/${encodeURIComponent(docId)}${query}#chunk-${encodeURIComponent(chunkId)}`;
}

/** The Spanish `detail` of an API error response, or a generic message with its status. */
export async function errorDetail(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch {
    // not JSON: fall through to the generic message
  }
  return t("server_error", { status: response.status });
}
