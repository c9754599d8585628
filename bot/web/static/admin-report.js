// "Lo que los usuarios no encuentran": the usage report of /api/admin/report as page elements.
// Users' questions only ever reach the page as text nodes.
import { el, t } from "/static/common.js";

function day(iso) {
  const [year, month, date] = iso.split("-");
  return `${date}/${month}/${year}`;
}

function section(title, children) {
  return el("section", { className: "informe-parte" }, [el("h3", { text: title }), ...children]);
}

function unanswered(groups) {
  if (!groups.length) return el("p", { className: "vacio", text: t("staff_report_no_unanswered") });
  return el("ol", { className: "informe-lista" }, groups.map((group) => el("li", {}, [
    el("span", { className: "informe-pregunta", text: group.question }),
    el("span", { className: "doc-meta", text: t("staff_report_asked", { count: group.count, channels: group.channels.join(", ") }) }),
    ...(group.variants.length
      ? [el("span", { className: "informe-variantes", text: t("staff_report_variants", { variants: group.variants.map((v) => `«${v}»`).join(" · ") }) })]
      : []),
  ])));
}

function downvoted(answers) {
  if (!answers.length) return el("p", { className: "vacio", text: t("staff_report_no_downvoted") });
  return el("ol", { className: "informe-lista" }, answers.map((answer) => el("li", {}, [
    el("span", { className: "informe-pregunta", text: answer.question }),
    el("span", { className: "doc-meta", text: t("staff_report_votes", { down: answer.downvotes, up: answer.upvotes, channels: answer.channels.join(", ") }) }),
    el("details", {}, [
      el("summary", { text: t("staff_report_answer_given") }),
      el("p", { className: "pasaje", text: answer.answer }),
      el("ul", {}, (answer.sources ?? []).map((s) => el("li", { text: `[${s.n}] ${s.title}${s.page ? ` · ${t("page", { page: s.page })}` : ""}` }))),
    ]),
  ])));
}

function daily(report) {
  if (!report.daily.length) return el("p", { className: "vacio", text: t("staff_report_no_questions") });
  const channels = report.channels;
  const head = el("tr", {}, [t("staff_report_day"), ...channels, t("staff_report_total")].map((name) => el("th", { text: name, attrs: { scope: "col" } })));
  const rows = report.daily.map((entry) => el("tr", {}, [
    el("th", { text: day(entry.day), attrs: { scope: "row" } }),
    ...channels.map((channel) => el("td", { text: String(entry.channels[channel] ?? 0) })),
    el("td", { text: String(entry.total) }),
  ]));
  return el("div", { className: "tabla-desplazable", attrs: { tabindex: "0", role: "region", "aria-label": t("staff_report_per_day") } }, [
    el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]),
  ]);
}

/** The report as a fragment: totals, unanswered questions, 👎 answers, questions per day. */
export function renderReport(report) {
  const fragment = document.createDocumentFragment();
  const period = report.since ? t("staff_report_since", { day: day(report.since) }) : t("staff_report_all");
  fragment.append(
    el("p", { className: "informe-totales", text: t("staff_report_totals", {
      period, questions: report.questions, abstained: report.abstained, up: report.upvotes, down: report.downvotes,
    }) }),
    section(t("staff_report_unanswered"), [unanswered(report.unanswered)]),
    section(t("staff_report_downvoted"), [downvoted(report.downvoted)]),
    section(t("staff_report_per_day"), [daily(report)]),
  );
  return fragment;
}
