// Reports for one journal: attendance, hours against the 12/36/74 thresholds, averages and
// 5-point grades, the at-risk list, charts, and export to XLSX or CSV.

import { api, type Debtor, type JournalReport, type JournalSummary, type StandingReport } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, button, clear, option, rawOption, setPlaceholder, setTitle, icon, ICONS } from "../dom";
import { lang, t, type Key } from "../i18n";
import * as fmt from "../format";
import { lessonTypeEl } from "../marks";
import { attendanceChart, gradesChart, hoursChart, planChart } from "../charts";

registerScreen("reports", async (el, route) => {
  if (route.name !== "reports") return;
  const journals = await api.listJournals();
  const head = h("header", { class: "screen-head" }, h("div", {}, tx("h1", "reports.title"), tx("p", "reports.subtitle", undefined, { class: "muted" })));
  el.append(head);
  if (journals.length === 0) {
    el.append(tx("p", "journals.none", undefined, { class: "card empty-note" }));
    return;
  }
  const select = h("select", { class: "input journal-select", "data-testid": "report-journal" });
  for (const j of journals) select.append(rawOption(j.id, `${j.group} — ${j.subject}`));
  select.value = route.journal && journals.some((j) => j.id === route.journal) ? route.journal : journals[0].id;
  head.append(select);
  // The semester across every subject first (what a dean's office acts on), then one journal.
  const semester = h("div", { class: "semester-standing" });
  const debtors = h("div", { class: "debtors" });
  el.append(semester, debtors);
  const level = h("select", { class: "input", id: "semester-level", "data-testid": "semester-level" }) as HTMLSelectElement;
  for (const l of ["warning", "reprimand", "expulsion", "ok"]) level.append(option(l, `standing.${l}` as Key));
  const loadSemester = async () => {
    try {
      renderSemester(semester, await api.getStanding({ level: level.value, semester: null }), level);
      renderDebtors(debtors, await api.getDebtors({ semester: null }));
    } catch (e) {
      app.showError(e);
    }
  };
  level.addEventListener("change", () => void loadSemester());
  await loadSemester();
  const body = h("div", { class: "report" });
  el.append(body);
  // The export card lives as long as its journal is selected: a background sync that reloads
  // the report must not drop a path being typed or an export's result arriving.
  let exporting: { journal: string; card: HTMLElement } | null = null;
  const load = async () => {
    try {
      const report = await api.getReport(select.value);
      const summary = journals.find((j) => j.id === select.value);
      if (exporting?.journal !== select.value) exporting = { journal: select.value, card: exportCard(report, summary) };
      renderReport(body, report, exporting.card);
    } catch (e) {
      app.showError(e);
    }
  };
  select.addEventListener("change", () => void load());
  await load();
  return { onSynced: () => void (load(), loadSemester()) };
});

/** The semester's standing over every subject: counts, the hours chart and the list. */
function renderSemester(el: HTMLElement, r: StandingReport, level: HTMLSelectElement): void {
  clear(el);
  const [w, rep, ex] = r.thresholds;
  const count = (s: string) => r.students.filter((x) => x.level === s).length;
  const table = h("table", { class: "table compact", "data-testid": "semester-table" });
  const cols: Key[] = ["reports.col.student", "semester.col.group", "reports.col.unexcusedH", "reports.col.excusedH", "reports.col.standing", "semester.col.subjects"];
  table.append(h("thead", {}, h("tr", {}, ...cols.map((c) => tx("th", c)))));
  const tb = h("tbody");
  for (const s of r.students) {
    const subjects = s.subjects
      .filter((x) => x.unexcusedHours > 0)
      .map((x) => `${x.subject} ${x.unexcusedHours}`)
      .join(", ");
    tb.append(
      h(
        "tr",
        { "data-testid": "semester-row" },
        raw("td", s.name, { class: "strong" }),
        raw("td", s.groupName),
        raw("td", String(s.unexcusedHours), { class: `num std-cell std-${s.level}`, "data-testid": "semester-unexcused" }),
        raw("td", String(s.excusedHours), { class: "num" }),
        h(
          "td",
          {},
          tx("span", `standing.${s.level}` as Key, undefined, { class: `badge badge-${s.level}` }),
          s.nearNext ? tx("span", "semester.nearNext", undefined, { class: "muted small near-next" }) : null,
        ),
        raw("td", subjects, { class: "muted small" }),
      ),
    );
  }
  table.append(tb);
  el.append(
    h(
      "div",
      { class: "card" },
      h("div", { class: "section-head" }, tx("h3", "semester.title"), h("div", { class: "form-row" }, tx("label", "semester.level", undefined, { for: "semester-level" }), level)),
      tx("p", "semester.hint", { w, r: rep, e: ex }, { class: "muted small" }),
      h(
        "div",
        { class: "stats" },
        stat("standing.warning", String(count("warning")), count("warning") ? "stat-warning" : ""),
        stat("standing.reprimand", String(count("reprimand")), count("reprimand") ? "stat-reprimand" : ""),
        stat("standing.expulsion", String(count("expulsion")), count("expulsion") ? "stat-expulsion" : ""),
      ),
      r.students.length === 0
        ? tx("p", "semester.none", undefined, { class: "muted" })
        : h("div", {}, hoursChart(r.students.slice(0, 15).map((s) => ({ ...s, standing: s.level })), r.thresholds, "semester-chart"), table),
    ),
  );
}

function stat(key: Key, value: string, cls = ""): HTMLElement {
  return h("div", { class: `stat ${cls}` }, raw("div", value, { class: "stat-value" }), tx("div", key, undefined, { class: "stat-label" }));
}

function renderReport(el: HTMLElement, r: JournalReport, exportEl: HTMLElement): void {
  clear(el);
  const atRisk = r.students.filter((s) => s.atRisk);
  const averages = r.students.map((s) => s.average).filter((a): a is number => a !== null);
  const mean = averages.length ? averages.reduce((a, b) => a + b, 0) / averages.length : null;
  const over = (i: number) => r.students.filter((s) => s.unexcusedHours >= (r.thresholds[i] ?? 999)).length;
  el.append(
    h(
      "div",
      { class: "stats" },
      stat("reports.attendance", fmt.percent(r.attendancePercent)),
      stat("reports.lessons", `${r.lessonsComplete}/${r.lessonsTotal}`),
      stat("reports.average", mean === null ? "—" : fmt.num(Math.round(mean * 10) / 10)),
      stat("reports.over12", String(over(0)), over(0) ? "stat-warning" : ""),
      stat("reports.over36", String(over(1)), over(1) ? "stat-reprimand" : ""),
      stat("reports.atRisk", String(atRisk.length), atRisk.length ? "stat-expulsion" : ""),
    ),
  );

  el.append(exportEl);
  el.append(planCard(r));

  el.append(
    h(
      "div",
      { class: "card chart-card" },
      h("div", { class: "section-head" }, tx("h3", "reports.hoursChart"), h("span", { class: "legend" }, h("span", { class: "legend-item" }, h("span", { class: "legend-swatch bar-unexcused" }), tx("span", "reports.unexcused")), h("span", { class: "legend-item" }, h("span", { class: "legend-swatch bar-excused" }), tx("span", "reports.excused")))),
      hoursChart(r.students, r.thresholds),
    ),
  );
  el.append(
    h(
      "div",
      { class: "two-col" },
      h("div", { class: "card chart-card" }, tx("h3", "reports.attendanceChart"), attendanceChart(r.lessons)),
      h("div", { class: "card chart-card" }, tx("h3", "reports.gradesChart"), gradesChart(r.students)),
    ),
  );

  const risk = h("div", { class: "card", "data-testid": "at-risk" }, tx("h3", "reports.atRiskTitle"));
  if (atRisk.length === 0) risk.append(tx("p", "reports.noneAtRisk", undefined, { class: "muted" }));
  else {
    const ul = h("ul", { class: "risk-list" });
    for (const s of atRisk) {
      const reason: Key = s.standing === "expulsion" || s.standing === "reprimand" ? `standing.${s.standing}` : "reports.lowGrade";
      ul.append(h("li", {}, raw("span", s.name, { class: "strong" }), tx("span", reason, undefined, { class: `badge badge-${s.standing === "ok" ? "warn" : s.standing}` }), tx("span", "reports.hoursShort", { n: s.unexcusedHours }, { class: "muted" })));
    }
    risk.append(ul);
  }
  el.append(risk);

  const table = h("table", { class: "table compact report-table", "data-testid": "report-table" });
  const cols: Key[] = ["reports.col.student", "reports.col.present", "reports.col.late", "reports.col.absent", "reports.col.excusedH", "reports.col.unexcusedH", "reports.col.semesterH", "reports.col.attendance", "reports.col.average", "reports.col.five", "reports.col.control", "reports.col.standing"];
  table.append(h("thead", {}, h("tr", {}, ...cols.map((c) => tx("th", c)))));
  const tb = h("tbody");
  for (const s of r.students) {
    tb.append(
      h(
        "tr",
        { class: s.atRisk ? "risk-row" : "" },
        raw("td", s.name, { class: "strong" }),
        raw("td", String(s.present), { class: "num" }),
        raw("td", String(s.late), { class: "num" }),
        raw("td", String(s.absent), { class: "num" }),
        raw("td", String(s.excusedHours), { class: "num" }),
        raw("td", String(s.unexcusedHours), { class: "num" }),
        // The standing is judged on the semester's hours over every subject.
        raw("td", String(s.semesterUnexcusedHours), { class: `num std-cell std-${s.standing}`, "data-testid": "semester-hours" }),
        raw("td", fmt.percent(s.attendancePercent), { class: "num" }),
        raw("td", fmt.num(s.average), { class: "num" }),
        raw("td", s.fivePoint === null ? "—" : String(s.fivePoint), { class: "num strong" }),
        raw("td", fmt.num(s.controlPoints), { class: "num" }),
        h("td", {}, tx("span", `standing.${s.standing}` as Key, undefined, { class: `badge badge-${s.standing}` })),
      ),
    );
  }
  table.append(tb);
  el.append(h("div", { class: "card table-card" }, tx("h3", "reports.perStudent"), table));
}

function exportCard(r: JournalReport, summary: JournalSummary | undefined): HTMLElement {
  const path = h("input", { class: "input grow", "data-testid": "export-path" });
  setPlaceholder(path, "reports.exportPathPlaceholder");
  const result = h("div", { class: "export-result", "data-testid": "export-result" });
  const run = async (format: "xlsx" | "csv" | "hemis") => {
    clear(result);
    try {
      // A typed path saves without asking; otherwise the system's save dialog asks where,
      // opened in the export folder with <group>_<subject>.<ext> filled in.
      let target = path.value.trim() || null;
      if (target === null) {
        const chosen = await api.chooseExportPath({ journal: r.journal, format, title: t("reports.saveTitle") });
        if (chosen.path === null) {
          app.toast("reports.exportCancelled");
          return;
        }
        target = chosen.path;
      }
      const out = await api.exportJournal({ journal: r.journal, format, path: target });
      result.append(icon(ICONS.check), tx("span", "reports.exported"), raw("code", out.path, { "data-testid": "export-path-result" }));
      app.toast("reports.savedTo", { path: out.path });
    } catch (e) {
      app.showError(e);
    }
  };
  const xlsx = button("reports.exportXlsx", () => void run("xlsx"), { class: "btn btn-primary", "data-testid": "export-xlsx" });
  xlsx.prepend(icon(ICONS.download));
  const csv = button("reports.exportCsv", () => void run("csv"), { class: "btn", "data-testid": "export-csv" });
  csv.prepend(icon(ICONS.download));
  // Per lesson and student, keyed by HEMIS ids, for whoever enters the journal into HEMIS.
  const hemis = button("reports.exportHemis", () => void run("hemis"), { class: "btn", "data-testid": "export-hemis" });
  hemis.prepend(icon(ICONS.download));
  setTitle(hemis, "reports.exportHemisHint");
  // The statement in the UI's script when it is Uzbek, else the catalog's.
  // Numbers only, so a language switch needs no new options; the label beside it translates.
  const sitting = h("select", { class: "input", id: "statement-sitting", "data-testid": "statement-sitting" }) as HTMLSelectElement;
  for (const n of ["1", "2", "3"]) sitting.append(rawOption(n, n));
  const writeStatement = async (pdf: boolean) => {
    clear(result);
    try {
      const l = lang();
      const script = l === "uz-Cyrl" ? "cyrl" : l === "uz-Latn" ? "latn" : null;
      const out = await api.exportStatement({ journal: r.journal, sitting: Number(sitting.value), script, path: path.value.trim() || null, pdf });
      result.append(icon(ICONS.check), tx("span", "reports.exported"), raw("code", out.path, { "data-testid": "export-path-result" }));
      app.toast("reports.savedTo", { path: out.path });
    } catch (e) {
      app.showError(e);
    }
  };
  const statement = button("reports.statement", () => void writeStatement(false), { class: "btn", "data-testid": "export-statement" });
  statement.prepend(icon(ICONS.download));
  const statementPdf = button("reports.statementPdf", () => void writeStatement(true), { class: "btn", "data-testid": "export-statement-pdf" });
  statementPdf.prepend(icon(ICONS.download));
  return h(
    "div",
    { class: "card export-card" },
    h("div", { class: "section-head" }, tx("h3", "reports.export"), summary ? raw("span", `${summary.group} — ${summary.subject}`, { class: "muted" }) : null),
    tx("p", "reports.exportHint", { dir: app.info.exportDir }, { class: "muted small" }),
    h("div", { class: "form-row" }, path, xlsx, csv, hemis),
    tx("p", "reports.statementHint", undefined, { class: "muted small" }),
    h("div", { class: "form-row" }, tx("label", "reports.sitting", undefined, { for: "statement-sitting" }), sitting, statement, statementPdf),
    result,
  );
}

/** Hours per lesson type against the module's plan: a chart, and the numbers beside it. */
function planCard(r: JournalReport): HTMLElement {
  const table = h("table", { class: "table compact plan-table", "data-testid": "plan-table" });
  const cols: Key[] = ["plan.type", "plan.planned", "plan.delivered", "plan.scheduled", "plan.shortfall"];
  table.append(h("thead", {}, h("tr", {}, ...cols.map((c) => tx("th", c)))));
  const tb = h("tbody");
  for (const p of r.hoursPlan) {
    tb.append(
      h(
        "tr",
        { "data-testid": "plan-row", "data-type": p.lessonType },
        h("td", {}, lessonTypeEl(p.lessonType, r.localTypes)),
        raw("td", String(p.planned), { class: "num" }),
        raw("td", String(p.delivered), { class: "num" }),
        raw("td", String(p.scheduled), { class: "num" }),
        raw("td", p.shortfall > 0 ? String(p.shortfall) : "—", { class: p.shortfall > 0 ? "num short" : "num" }),
      ),
    );
  }
  table.append(tb);
  const swatch = (cls: string, k: Key) => h("span", { class: "legend-item" }, h("span", { class: `legend-swatch ${cls}` }), tx("span", k));
  return h(
    "div",
    { class: "card chart-card", "data-testid": "plan-card" },
    h("div", { class: "section-head" }, tx("h3", "plan.title"), h("span", { class: "legend" }, swatch("bar-delivered", "plan.delivered"), swatch("bar-scheduled", "plan.scheduled"), swatch("bar-short", "plan.shortfall"))),
    planChart(r.hoursPlan, r.localTypes),
    table,
  );
}

/** Academic debtors: who owes which subject, and why (not admitted, failed, absent). */
function renderDebtors(el: HTMLElement, list: Debtor[]): void {
  clear(el);
  const students = new Set(list.map((d) => `${d.student}|${d.groupName}`));
  const heldBack = new Set(list.filter((d) => d.heldBack).map((d) => d.student));
  const table = h("table", { class: "table compact", "data-testid": "debtors-table" });
  const cols: Key[] = ["reports.col.student", "semester.col.group", "debtors.col.subject", "debtors.col.why", "debtors.col.current", "debtors.col.yn", "debtors.col.debts"];
  table.append(h("thead", {}, h("tr", {}, ...cols.map((c) => tx("th", c)))));
  const tb = h("tbody");
  for (const d of list) {
    tb.append(
      h(
        "tr",
        { "data-testid": "debtor-row", "data-student": d.student, "data-debt": d.debt },
        raw("td", d.name, { class: "strong" }),
        raw("td", d.groupName),
        raw("td", d.subject),
        h("td", {}, tx("span", `debt.${d.debt}` as Key, { n: d.assessment.sitting }, { class: "badge badge-reprimand" })),
        raw("td", fmt.num(d.assessment.totals.current), { class: "num" }),
        raw("td", d.assessment.totals.yn === null ? "—" : fmt.num(d.assessment.totals.yn), { class: "num" }),
        h("td", { class: "num" }, raw("span", String(d.debts)), d.heldBack ? tx("span", "debtors.heldBack", undefined, { class: "badge badge-expulsion" }) : null),
      ),
    );
  }
  table.append(tb);
  el.append(
    h(
      "div",
      { class: "card", "data-testid": "debtors-card" },
      h("div", { class: "section-head" }, tx("h3", "debtors.title"), tx("span", "debtors.count", { n: students.size }, { class: "muted" })),
      tx("p", "debtors.hint", undefined, { class: "muted small" }),
      heldBack.size > 0 ? tx("p", "debtors.heldBackCount", { n: heldBack.size }, { class: "form-error" }) : null,
      list.length === 0 ? tx("p", "debtors.none", undefined, { class: "muted" }) : table,
    ),
  );
}
