// The journal grid: students × lessons, marked from the keyboard like a spreadsheet.
//
// One <table> is built when the journal opens; after that every edit answers with a patch
// (the cells, totals and lesson headers it changed) and only those elements are repainted, so a
// 35 × 60 journal stays smooth. Cells keep a signature of what they show and are not touched
// when it did not change. Edits are queued so they reach the replica in the order typed.
//
// Keys: arrows move; typing or Enter edits (`+` present, `nb` absent, `e` excused, `l` late,
// a number = a grade); Delete clears; Ctrl+Enter or `*` starts "everyone present" for the
// lesson: Space ticks absentees, Enter saves the whole lesson as one action, Esc cancels.

import { api, IpcFailure, type GridCell, type GridLesson, type GridPatch, type JournalGrid, type OverruledEntry, type StudentTotals } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, setText, setRaw, setTitle, button, clear, icon, ICONS, setPlaceholder, option, rawOption } from "../dom";
import { t, onLangChange, hasKey, type Key } from "../i18n";
import * as fmt from "../format";
import { lessonTypeEl, markText, markView } from "../marks";

const LESSON_TYPES = ["11", "12", "13", "14", "15", "16", "17"];

interface Perf {
  gridRenderMs?: number;
  gridCells?: number;
  lastPatchMs?: number;
  lastSaveMs?: number;
}

declare global {
  interface Window {
    __daftarPerf?: Perf;
    __daftarBench?: (students: number, lessons: number) => { renderMs: number; buildMs: number; patchMs: number; cells: number };
  }
}

function perf(): Perf {
  window.__daftarPerf ??= {};
  return window.__daftarPerf;
}

const key = (lesson: string, student: string) => `${lesson}|${student}`;

/** An adjustment as people read it in the current language: → the mark it counts as, and why. */
function adjustmentView(value: string, fallback: string): HTMLElement {
  try {
    const a = JSON.parse(value) as { to?: string; reason?: string };
    const mark = `mark.${a.to ?? ""}`;
    if (hasKey(mark)) {
      return h("span", { class: "strong" }, raw("span", "→ "), tx("span", mark), raw("span", `: ${a.reason ?? ""}`));
    }
  } catch {
    // shown as stored
  }
  return raw("span", fallback, { class: "strong" });
}

interface HeaderEls {
  th: HTMLTableCellElement;
  date: HTMLElement;
  meta: HTMLElement;
  topic: HTMLButtonElement;
  all: HTMLButtonElement;
  lock: HTMLElement;
  ask: HTMLButtonElement;
  more: HTMLButtonElement;
}

interface RowEls {
  tr: HTMLTableRowElement;
  excused: HTMLTableCellElement;
  unexcused: HTMLTableCellElement;
  average: HTMLTableCellElement;
}

export class GridView {
  data: JournalGrid;
  private cells = new Map<string, GridCell>();
  private totals = new Map<string, StudentTotals>();
  private resolved = new Map<string, string>();
  private overruled = new Map<string, OverruledEntry>();
  private cellEls: HTMLTableCellElement[][] = [];
  private headers: HeaderEls[] = [];
  private rows: RowEls[] = [];
  private lessonIndex = new Map<string, number>();
  private studentIndex = new Map<string, number>();
  private cur = { r: 0, c: 0 };
  private editor: { input: HTMLInputElement; r: number; c: number; original: string } | null = null;
  /** Roll call: the column, the ticked absentees, and rows or names being typed (`5 17`). */
  private roll: { c: number; absent: Set<number>; typed: string } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private popover: HTMLElement | null = null;

  readonly root: HTMLElement;
  private scroll!: HTMLElement;
  private table!: HTMLTableElement;
  private rollBar!: HTMLElement;
  private banners!: HTMLElement;
  private readonly interactive: boolean;
  private subgroups = new Map<string, string | null>();

  constructor(host: HTMLElement, data: JournalGrid, interactive = true) {
    this.data = data;
    this.interactive = interactive;
    this.root = h("div", { class: "grid-page", "data-testid": "grid-page", "data-journal": data.id });
    host.append(this.root);
    this.render();
    // Cell tooltips and accessible labels are built from the catalogue when a cell is painted:
    // paint those cells again in the new language.
    onLangChange(() => {
      if (!this.root.isConnected) return;
      this.cellEls.forEach((row, r) =>
        row.forEach((td, c) => {
          if (!td.title || (this.editor && this.editor.r === r && this.editor.c === c) || this.roll?.c === c) return;
          td.dataset.sig = "";
          this.paintCell(td, this.data.lessons[c], this.data.students[r].id);
        }),
      );
    });
  }

  // ------------------------------------------------------------ building

  private index(): void {
    this.cells.clear();
    for (const c of this.data.cells) this.cells.set(key(c.lesson, c.student), c);
    this.totals.clear();
    for (const tt of this.data.totals) this.totals.set(tt.student, tt);
    this.lessonIndex = new Map(this.data.lessons.map((l, i) => [l.id, i]));
    this.studentIndex = new Map(this.data.students.map((s, i) => [s.id, i]));
    this.subgroups = new Map(this.data.students.map((s) => [s.id, s.subgroup]));
    this.resolved.clear();
    for (const r of this.data.resolutions) {
      if (r.field === "mark" && r.lesson && r.student) {
        this.resolved.set(key(r.lesson, r.student), `${r.byUser}: ${r.display}${r.note ? ` — ${r.note}` : ""}`);
      }
    }
    this.overruled.clear();
    for (const o of this.data.overruled) {
      if (o.field === "mark" && o.lesson && o.student) this.overruled.set(key(o.lesson, o.student), o);
    }
  }

  /** "Your mark NB was changed to S by dekanat on 14.09.2026 10:05. Note: …", in the current language. */
  private overruledText(o: OverruledEntry): string {
    const text = t("grid.overruledCell", {
      mine: markText(o.field, o.mine, o.mineDisplay),
      decided: markText(o.field, o.decided, o.decidedDisplay),
      by: o.byUser,
      when: fmt.dateTime(o.resolvedAt),
    });
    return o.note ? `${text} ${t("grid.overruledNote", { note: o.note })}` : text;
  }

  render(): void {
    const started = performance.now();
    this.index();
    clear(this.root);
    const d = this.data;

    if (this.interactive) {
      const back = h("button", { type: "button", class: "btn btn-icon", "data-testid": "grid-back" }, icon(ICONS.back));
      setTitle(back, "grid.back");
      back.addEventListener("click", () => void app.navigate({ name: "journals" }));
      const title = h(
        "div",
        { class: "grid-title" },
        h("h1", {}, raw("span", d.groupName), raw("span", " — ", { class: "muted" }), raw("span", d.subject)),
        h(
          "div",
          { class: "muted small" },
          tx("span", "grid.semester", { n: d.semester }),
          raw("span", " · "),
          tx("span", `marking.${d.markingSystem}` as Key),
          raw("span", " ("),
          tx("span", "grid.borders", { five: d.gradeBorders[0] ?? "", four: d.gradeBorders[1] ?? "", three: d.gradeBorders[2] ?? "" }, { "data-testid": "grade-borders" }),
          raw("span", ")"),
          raw("span", " · "),
          tx("span", "grid.size", { students: d.students.length, lessons: d.lessons.length }),
        ),
      );
      const addLesson = button("grid.addLesson", () => this.addLessonDialog(), { class: "btn", "data-testid": "add-lesson" });
      addLesson.prepend(icon(ICONS.plus));
      addLesson.disabled = d.lock !== null;
      const report = button("grid.report", () => void app.navigate({ name: "reports", journal: d.id }), { class: "btn" });
      report.prepend(icon(ICONS.report));
      const scores = button("grid.scores", () => this.scoresDialog(), { class: "btn", "data-testid": "open-scores" });
      const dean: HTMLElement[] = [];
      if (app.info.canResolve) {
        dean.push(
          button("grid.adjust", () => this.adjustDialog(), { class: "btn", "data-testid": "open-adjust" }),
          button("grid.lockLesson", () => this.lockDialog(), { class: "btn", "data-testid": "open-lock" }),
        );
        dean[1].prepend(icon(ICONS.lock));
      }
      this.root.append(h("header", { class: "grid-head" }, back, title, h("div", { class: "grid-actions" }, ...dean, scores, addLesson, report)));
      this.root.append(this.legend());
    }
    this.banners = h("div", { class: "banners" });
    this.root.append(this.banners);
    this.renderBanners();

    this.table = h("table", { class: "grid", "data-testid": "grid" });
    const thead = h("thead");
    const hr = h("tr");
    hr.append(tx("th", "grid.no", undefined, { class: "corner sticky-l0" }), tx("th", "grid.student", undefined, { class: "name sticky-l1" }));
    this.headers = d.lessons.map((l, c) => {
      const els = this.lessonHeader(l, c);
      hr.append(els.th);
      return els;
    });
    hr.append(
      tx("th", "grid.excusedShort", undefined, { class: "tot sticky-r2", title: t("grid.excusedHours") }),
      tx("th", "grid.unexcusedShort", undefined, { class: "tot sticky-r1", title: t("grid.unexcusedHours") }),
      tx("th", "grid.averageShort", undefined, { class: "tot sticky-r0", title: t("grid.average") }),
    );
    thead.append(hr);

    const tbody = h("tbody");
    this.cellEls = [];
    this.rows = [];
    d.students.forEach((s, r) => {
      const tr = h("tr", { "data-student": s.id, class: s.active ? "" : "inactive" });
      const name = raw("td", s.name, { class: "name sticky-l1" });
      if (s.number) name.title = s.number;
      tr.append(raw("td", String(r + 1), { class: "no sticky-l0" }), name);
      const rowCells: HTMLTableCellElement[] = [];
      d.lessons.forEach((l, c) => {
        const td = document.createElement("td");
        td.className = "c";
        td.setAttribute("data-r", String(r));
        td.setAttribute("data-c", String(c));
        this.paintCell(td, l, s.id);
        rowCells.push(td);
        tr.append(td);
      });
      this.cellEls.push(rowCells);
      const excused = h("td", { class: "tot sticky-r2" });
      const unexcused = h("td", { class: "tot sticky-r1" });
      const average = h("td", { class: "tot sticky-r0" });
      tr.append(excused, unexcused, average);
      const row = { tr, excused, unexcused, average };
      this.rows.push(row);
      this.paintTotals(row, this.totals.get(s.id));
      tbody.append(tr);
    });
    this.table.append(thead, tbody);

    this.scroll = h("div", { class: "grid-scroll", tabindex: 0, "data-testid": "grid-scroll" }, this.table);
    this.root.append(this.scroll);

    this.rollBar = h("div", { class: "rollcall-bar", hidden: true, "data-testid": "rollcall-bar", role: "status", "aria-live": "polite" });
    this.root.append(this.rollBar);
    if (this.interactive) {
      this.root.append(this.help());
      this.wire();
      // Today's lesson still to fill, else the next one (core decides: `LessonPlan`).
      const focus = d.focusLesson === null ? -1 : (this.lessonIndex.get(d.focusLesson) ?? -1);
      this.cur = { r: 0, c: focus >= 0 ? focus : 0 };
      this.paintCursor();
    }
    // Force layout so the measurement includes it.
    void this.table.offsetHeight;
    const ms = performance.now() - started;
    if (this.interactive) {
      perf().gridRenderMs = Math.round(ms * 10) / 10;
      perf().gridCells = d.students.length * d.lessons.length;
      console.info(`grid render ${d.students.length}x${d.lessons.length}: ${ms.toFixed(1)} ms`);
    }
  }

  private legend(): HTMLElement {
    const item = (cls: string, sym: Key, label: Key) =>
      h("span", { class: "legend-item" }, tx("span", sym, undefined, { class: `legend-sym ${cls}` }), tx("span", label));
    const th = this.data.thresholds;
    return h(
      "div",
      { class: "legend" },
      item("m-p", "mark.p", "legend.present"),
      item("m-a", "mark.a", "legend.absent"),
      item("m-e", "mark.e", "legend.excused"),
      item("m-l", "mark.l", "legend.late"),
      h("span", { class: "legend-item" }, h("span", { class: "legend-sym conflict-sym" }), tx("span", "legend.conflict")),
      this.overruled.size > 0 ? h("span", { class: "legend-item" }, h("span", { class: "legend-sym overruled-sym" }), tx("span", "legend.overruled")) : null,
      h("span", { class: "legend-item" }, h("span", { class: "legend-swatch std-warning" }), tx("span", "legend.threshold", { h: th[0] ?? 12 })),
      h("span", { class: "legend-item" }, h("span", { class: "legend-swatch std-reprimand" }), tx("span", "legend.threshold", { h: th[1] ?? 36 })),
      h("span", { class: "legend-item" }, h("span", { class: "legend-swatch std-expulsion" }), tx("span", "legend.threshold", { h: th[2] ?? 74 })),
    );
  }

  private help(): HTMLElement {
    return h(
      "div",
      { class: "grid-help" },
      h("kbd", {}, raw("span", "← ↑ → ↓")),
      tx("span", "help.move"),
      h("kbd", {}, raw("span", "Enter")),
      tx("span", "help.edit"),
      h("kbd", {}, raw("span", "+ nb e l 1–100")),
      tx("span", "help.values"),
      h("kbd", {}, raw("span", "Delete")),
      tx("span", "help.clear"),
      h("kbd", {}, raw("span", "Ctrl+Enter / *")),
      tx("span", "help.rollcall"),
      h("kbd", {}, raw("span", "F4")),
      tx("span", "help.history"),
    );
  }

  private renderBanners(): void {
    clear(this.banners);
    const d = this.data;
    if (d.lock) {
      const b = h("div", { class: "banner banner-muted" }, icon(ICONS.lock), tx("span", "grid.journalLocked"), raw("span", d.lock, { class: "strong" }));
      this.banners.append(b);
    }
    if (this.interactive && d.resolutions.length > 0) {
      const list = h("ul", { class: "resolution-list", hidden: true });
      for (const r of d.resolutions) {
        list.append(
          h(
            "li",
            {},
            raw("span", fmt.date(r.lessonDate), { class: "muted" }),
            raw("span", r.studentName ?? "", { class: "strong" }),
            raw("span", `→ ${r.display}`),
            tx("span", "grid.resolvedBy", { user: r.byUser }),
            r.note ? raw("span", `“${r.note}”`, { class: "muted" }) : null,
          ),
        );
      }
      const toggle = button("grid.showResolutions", () => {
        list.hidden = !list.hidden;
      }, { class: "btn btn-link" });
      const b = h(
        "div",
        { class: "banner banner-info", "data-testid": "resolutions-banner" },
        icon(ICONS.inbox),
        tx("span", "grid.resolutions", { n: d.resolutions.length }),
        toggle,
      );
      this.banners.append(b, list);
    }
    if (this.interactive && d.overruled.length > 0) {
      const list = h("ul", { class: "resolution-list overruled-list", "data-testid": "overruled-list" });
      for (const o of d.overruled) {
        list.append(
          h(
            "li",
            { "data-testid": "overruled-item", "data-lesson": o.lesson ?? "", "data-student": o.student ?? "" },
            raw("span", fmt.date(o.lessonDate), { class: "muted" }),
            raw("span", o.studentName ?? o.student ?? "", { class: "strong" }),
            markView(o.field, o.mine, o.mineDisplay, { class: "struck" }),
            raw("span", "→"),
            markView(o.field, o.decided, o.decidedDisplay, { class: "strong", "data-testid": "overruled-decided" }),
            tx("span", "grid.overruledBy", { user: o.byUser, when: fmt.dateTime(o.resolvedAt) }),
            o.note ? raw("span", `“${o.note}”`, { class: "muted" }) : null,
          ),
        );
      }
      const b = h(
        "div",
        { class: "banner banner-warn", "data-testid": "overruled-banner" },
        icon(ICONS.warn),
        tx("span", "grid.overruled", { n: d.overruled.length }),
      );
      this.banners.append(b, list);
    }
  }

  private lessonHeader(l: GridLesson, c: number): HeaderEls {
    const th = h("th", { class: "lesson", "data-c": c, "data-lesson": l.id, "data-date": l.date, "data-pair": l.pair });
    const date = h("div", { class: "l-date" });
    const meta = h("div", { class: "l-meta" });
    const topic = h("button", { type: "button", class: "l-topic", "data-testid": "lesson-topic" });
    const all = h("button", { type: "button", class: "l-all", "data-testid": "all-present" });
    all.append(icon(ICONS.check), tx("span", "grid.allPresent"));
    setTitle(all, "grid.allPresentHint");
    const lock = h("span", { class: "l-lock", hidden: true });
    lock.append(icon(ICONS.lock));
    // The entry window has closed: the teacher asks the dean's office to open the lesson.
    const ask = h("button", { type: "button", class: "l-ask", hidden: true, "data-testid": "request-opening" });
    ask.append(icon(ICONS.lock), tx("span", "opening.ask"));
    // Cancel or move the lesson.
    const more = h("button", { type: "button", class: "l-more", "data-testid": "lesson-more" });
    more.append(raw("span", "⋯"));
    setTitle(more, "lesson.actions");
    more.hidden = !this.interactive;
    th.append(h("div", { class: "l-top" }, date, more), meta, topic, h("div", { class: "l-actions" }, all, lock, ask));
    const els = { th, date, meta, topic, all, lock, ask, more };
    more.addEventListener("click", (e) => {
      e.stopPropagation();
      this.lessonDialog(this.data.lessons.findIndex((x) => x.id === l.id));
    });
    this.paintHeader(els, l);
    ask.addEventListener("click", (e) => {
      e.stopPropagation();
      this.openingDialog(this.data.lessons.findIndex((x) => x.id === l.id));
    });
    if (this.interactive) {
      topic.addEventListener("click", (e) => {
        e.stopPropagation();
        this.topicPopover(c);
      });
      all.addEventListener("click", (e) => {
        e.stopPropagation();
        this.startRoll(c);
      });
    }
    return els;
  }

  // ------------------------------------------------------------ painting

  private paintHeader(els: HeaderEls, l: GridLesson): void {
    setRaw(els.date, fmt.date(l.date));
    clear(els.meta);
    els.meta.append(
      raw("span", String(l.pair), { class: "l-pair" }),
      lessonTypeEl(l.lessonType, this.data.localTypes, true, { class: `l-type t${l.lessonType}` }),
    );
    const localType = this.data.localTypes[l.lessonType];
    setTitle(els.meta, "grid.pairType", { pair: l.pair, type: localType ?? `@lessonType.${l.lessonType}` });
    if (l.subgroup) {
      const sg = tx("span", "lesson.subgroupShort", { n: l.subgroup }, { class: "l-sub", "data-testid": "lesson-subgroup" });
      setTitle(sg, "lesson.subgroupOnly", { n: l.subgroup });
      els.meta.append(sg);
    }
    const cancelled = l.status === "cancelled";
    els.th.classList.toggle("cancelled", cancelled);
    els.more.hidden = !this.interactive || l.lock !== null || cancelled;
    if (cancelled) {
      setText(els.topic, "lesson.cancelled");
      els.topic.removeAttribute("title");
      els.topic.classList.add("empty");
    } else if (l.topic) {
      setRaw(els.topic, l.topic);
      els.topic.title = l.topic;
      els.topic.classList.remove("empty");
    } else {
      setText(els.topic, "grid.pickTopic");
      els.topic.removeAttribute("title");
      els.topic.classList.add("empty");
    }
    els.th.classList.toggle("complete", l.complete);
    els.th.classList.toggle("locked", l.lock !== null);
    els.lock.hidden = l.lock === null;
    els.all.hidden = l.lock !== null || l.entryClosed || cancelled;
    els.ask.hidden = !(l.entryClosed && l.lock === null && !app.info.canResolve);
    els.th.classList.toggle("entry-closed", l.entryClosed);
    els.topic.disabled = l.lock !== null || cancelled;
    if (l.lock) els.lock.title = l.lock;
  }

  private paintCell(td: HTMLTableCellElement, lesson: GridLesson, student: string): void {
    const cell = this.cells.get(key(lesson.id, student));
    const resolved = this.resolved.get(key(lesson.id, student));
    const overruled = this.overruled.get(key(lesson.id, student));
    const locked = lesson.lock !== null;
    const sig = cell
      ? `${cell.status}|${cell.grade ?? ""}|${cell.effective}|${cell.conflict ?? ""}|${cell.note ?? ""}|${cell.adjustmentReason ?? ""}|${resolved ?? ""}|${overruled?.resolvedAt ?? ""}|${locked}`
      : `-|${resolved ?? ""}|${locked}`;
    if (td.dataset.sig === sig) return;
    td.dataset.sig = sig;
    // One class assignment and at most one text node per cell: this is what keeps a 35 x 60
    // grid cheap to build and to lay out.
    let cls = td.classList.contains("cur") ? "c cur" : "c";
    if (locked) cls += " locked";
    // A subgroup's lesson: the other subgroup's students are not expected at it.
    if (!cell && lesson.subgroup !== null && this.subgroups.get(student) !== lesson.subgroup) {
      td.className = `${cls} na`;
      td.textContent = "";
      td.removeAttribute("data-i18n");
      td.removeAttribute("data-raw");
      setTitle(td, "lesson.notInSubgroup", { n: lesson.subgroup });
      return;
    }
    if (!cell) {
      td.className = cls;
      td.textContent = "";
      td.removeAttribute("title");
      td.removeAttribute("aria-label");
      td.removeAttribute("data-overruled");
      td.removeAttribute("data-i18n");
      td.removeAttribute("data-raw");
      return;
    }
    cls += ` m-${cell.effective}`;
    const adjusted = cell.adjustedTo !== null && cell.effective !== cell.status;
    if (adjusted) {
      cls += " adjusted";
      td.removeAttribute("data-i18n");
      td.removeAttribute("data-raw");
      td.textContent = "";
      td.append(h("span", { class: "orig" }, this.symbol(cell.status, cell.grade)), this.symbol(cell.effective, null));
    } else if (cell.grade !== null && cell.status === "p") {
      setRaw(td, String(cell.grade));
    } else if (cell.grade !== null && cell.status === "l") {
      td.removeAttribute("data-i18n");
      td.removeAttribute("data-raw");
      td.textContent = "";
      td.append(this.symbol("l", cell.grade));
    } else {
      setText(td, `mark.${cell.status}` as Key);
    }
    const notes: string[] = [];
    if (cell.adjustmentReason) notes.push(cell.adjustmentReason);
    if (cell.note) notes.push(cell.note);
    if (overruled) {
      // Your mark was decided against: a marker, the story in the tooltip and for screen readers.
      cls += " overruled";
      const story = this.overruledText(overruled);
      notes.unshift(story);
      td.setAttribute("aria-label", `${td.textContent ?? ""}. ${story}`);
      td.setAttribute("data-overruled", "");
    } else {
      td.removeAttribute("aria-label");
      td.removeAttribute("data-overruled");
    }
    if (resolved && !overruled) {
      cls += " resolved";
      notes.push(resolved);
    }
    if (cell.conflict) {
      cls += " conflict";
      notes.push(t("grid.inConflict"));
    }
    td.className = cls;
    if (notes.length) td.title = notes.join("\n");
    else td.removeAttribute("title");
  }

  private symbol(status: string, grade: number | null): HTMLElement {
    if (grade !== null && status === "l") return h("span", {}, tx("span", "mark.l"), raw("span", String(grade)));
    if (grade !== null && status === "p") return raw("span", String(grade));
    return tx("span", `mark.${status}` as Key);
  }

  private paintTotals(row: RowEls, tt: StudentTotals | undefined): void {
    setRaw(row.excused, tt ? String(tt.excusedHours) : "0");
    setRaw(row.unexcused, tt ? String(tt.unexcusedHours) : "0");
    const avg = tt?.average ?? null;
    setRaw(row.average, avg === null ? "—" : tt?.fivePoint ? `${fmt.num(avg)} (${tt.fivePoint})` : fmt.num(avg));
    const standing = tt?.standing ?? "ok";
    for (const cls of ["std-warning", "std-reprimand", "std-expulsion"]) {
      row.unexcused.classList.toggle(cls, cls === `std-${standing}`);
      row.tr.classList.toggle(cls, cls === `std-${standing}`);
    }
    row.tr.classList.toggle("at-risk", tt?.atRisk ?? false);
  }

  private paintCursor(): void {
    this.table.querySelector("td.cur")?.classList.remove("cur");
    this.table.querySelectorAll("th.cur-col").forEach((e) => e.classList.remove("cur-col"));
    this.table.querySelector("tr.cur-row")?.classList.remove("cur-row");
    const td = this.cellEls[this.cur.r]?.[this.cur.c];
    if (!td) return;
    td.classList.add("cur");
    this.headers[this.cur.c]?.th.classList.add("cur-col");
    this.rows[this.cur.r]?.tr.classList.add("cur-row");
    this.ensureVisible(td);
  }

  private ensureVisible(td: HTMLElement): void {
    const s = this.scroll;
    const stickyLeft = 260;
    const stickyRight = 200;
    const headH = this.table.tHead?.offsetHeight ?? 0;
    const left = td.offsetLeft;
    const right = left + td.offsetWidth;
    if (left - stickyLeft < s.scrollLeft) s.scrollLeft = Math.max(0, left - stickyLeft);
    else if (right + stickyRight > s.scrollLeft + s.clientWidth) s.scrollLeft = right + stickyRight - s.clientWidth;
    const top = td.offsetTop;
    const bottom = top + td.offsetHeight;
    if (top - headH < s.scrollTop) s.scrollTop = Math.max(0, top - headH);
    else if (bottom > s.scrollTop + s.clientHeight) s.scrollTop = bottom - s.clientHeight;
  }

  /** Applies what an edit changed, touching only those elements. */
  applyPatch(p: GridPatch): void {
    const started = performance.now();
    for (const l of p.lessons) {
      const c = this.lessonIndex.get(l.id);
      if (c === undefined) continue;
      const old = this.data.lessons[c];
      this.data.lessons[c] = l;
      this.paintHeader(this.headers[c], l);
      if ((old?.lock ?? null) !== l.lock) {
        this.data.students.forEach((st, r) => this.paintCell(this.cellEls[r][c], l, st.id));
      }
    }
    for (const cell of p.cells) {
      this.cells.set(key(cell.lesson, cell.student), cell);
      this.repaint(cell.lesson, cell.student);
    }
    for (const k of p.cleared) {
      this.cells.delete(key(k.lesson, k.student));
      this.repaint(k.lesson, k.student);
    }
    for (const tt of p.totals) {
      this.totals.set(tt.student, tt);
      const r = this.studentIndex.get(tt.student);
      if (r !== undefined) this.paintTotals(this.rows[r], tt);
    }
    perf().lastPatchMs = Math.round((performance.now() - started) * 100) / 100;
  }

  private repaint(lesson: string, student: string): void {
    const c = this.lessonIndex.get(lesson);
    const r = this.studentIndex.get(student);
    if (c === undefined || r === undefined) return;
    const td = this.cellEls[r][c];
    if (this.editor && this.editor.r === r && this.editor.c === c) return;
    this.paintCell(td, this.data.lessons[c], student);
  }

  /** After a sync: if changes arrived for this journal, fetch it again and repaint what differs
   * (rebuild only if its lessons or students changed). */
  async reload(): Promise<void> {
    await this.queue;
    const { version } = await api.journalVersion(this.data.id);
    if (version === this.data.version) return;
    const fresh = await api.openJournal(this.data.id);
    const sameShape =
      fresh.lessons.length === this.data.lessons.length &&
      fresh.students.length === this.data.students.length &&
      fresh.lessons.every((l, i) => l.id === this.data.lessons[i].id) &&
      fresh.students.every((s, i) => s.id === this.data.students[i].id);
    if (!sameShape || this.editor || this.roll) {
      if (this.editor || this.roll) return;
      const cur = this.cur;
      this.data = fresh;
      this.render();
      this.cur = { r: Math.min(cur.r, fresh.students.length - 1), c: Math.min(cur.c, fresh.lessons.length - 1) };
      this.paintCursor();
      return;
    }
    const now = new Set(fresh.cells.map((c) => key(c.lesson, c.student)));
    const cleared = [...this.cells.keys()].filter((k) => !now.has(k));
    this.data.version = fresh.version;
    const resolutionsChanged =
      fresh.resolutions.length !== this.data.resolutions.length || fresh.overruled.length !== this.data.overruled.length;
    this.data.resolutions = fresh.resolutions;
    this.data.overruled = fresh.overruled;
    this.data.scores = fresh.scores;
    this.data.controls = fresh.controls;
    this.data.lock = fresh.lock;
    if (resolutionsChanged) {
      this.index();
      this.renderBanners();
    }
    this.applyPatch({
      journal: fresh.id,
      cells: fresh.cells,
      cleared: cleared.map((k) => {
        const [lesson, student] = k.split("|");
        return { lesson, student };
      }),
      totals: fresh.totals,
      lessons: fresh.lessons,
    });
    if (resolutionsChanged) {
      for (const s of this.data.students) for (const l of this.data.lessons) this.repaint(l.id, s.id);
    }
  }

  // ------------------------------------------------------------ input

  private wire(): void {
    this.scroll.addEventListener("keydown", (e) => this.onKey(e));
    this.table.addEventListener("mousedown", (e) => {
      const td = (e.target as HTMLElement).closest("td.c") as HTMLTableCellElement | null;
      if (!td) return;
      const r = Number(td.dataset.r);
      const c = Number(td.dataset.c);
      if (this.editor && (this.editor.r !== r || this.editor.c !== c)) this.commitEditor(0, 0);
      if (this.roll) {
        if (c === this.roll.c) {
          this.cur = { r, c };
          this.toggleAbsent(r);
          this.paintCursor();
        }
        e.preventDefault();
        return;
      }
      this.cur = { r, c };
      this.paintCursor();
      this.scroll.focus({ preventScroll: true });
      e.preventDefault();
    });
    this.table.addEventListener("contextmenu", (e) => {
      const td = (e.target as HTMLElement).closest("td.c") as HTMLTableCellElement | null;
      if (!td || this.roll) return;
      e.preventDefault();
      const r = Number(td.dataset.r);
      const c = Number(td.dataset.c);
      this.cur = { r, c };
      this.paintCursor();
      void this.historyPopover(r, c);
    });
    this.table.addEventListener("dblclick", (e) => {
      const td = (e.target as HTMLElement).closest("td.c");
      if (td && !this.roll) this.startEdit(null);
    });
    this.scroll.focus({ preventScroll: true });
  }

  private onKey(e: KeyboardEvent): void {
    if (this.editor) return; // the editor handles its own keys
    const move = (dr: number, dc: number) => {
      e.preventDefault();
      const maxR = this.data.students.length - 1;
      const maxC = this.data.lessons.length - 1;
      const r = Math.max(0, Math.min(maxR, this.cur.r + dr));
      const c = this.roll ? this.roll.c : Math.max(0, Math.min(maxC, this.cur.c + dc));
      this.cur = { r, c };
      this.paintCursor();
    };
    if (this.roll) {
      switch (e.key) {
        case "ArrowUp":
          return move(-1, 0);
        case "ArrowDown":
          return move(1, 0);
        case " ":
        case "Spacebar":
          e.preventDefault();
          // Between typed rows a space separates them; otherwise it ticks the cursor's row.
          if (this.roll.typed) this.typeRoll(this.roll.typed.endsWith(" ") ? this.roll.typed : `${this.roll.typed} `);
          else this.toggleAbsent(this.cur.r);
          return;
        case "Backspace":
          e.preventDefault();
          this.typeRoll(this.roll.typed.slice(0, -1));
          return;
        case "Enter":
          e.preventDefault();
          void this.saveRoll();
          return;
        case "Escape":
          e.preventDefault();
          if (this.roll.typed) this.typeRoll("");
          else this.endRoll();
          return;
        default:
          if (e.key.length === 1) {
            e.preventDefault();
            // Row numbers and names (any Uzbek apostrophe): absentees typed, not ticked.
            if (!e.ctrlKey && !e.metaKey && !e.altKey && /^[\p{L}\p{N}'ʻʼ‘’`,-]$/u.test(e.key)) this.typeRoll(this.roll.typed + e.key);
          }
          return;
      }
    }
    if (this.data.students.length === 0 || this.data.lessons.length === 0) return;
    switch (e.key) {
      case "ArrowUp":
        return move(-1, 0);
      case "ArrowDown":
        return move(1, 0);
      case "ArrowLeft":
        return move(0, -1);
      case "ArrowRight":
        return move(0, 1);
      case "Tab":
        return move(0, e.shiftKey ? -1 : 1);
      case "Home":
        return move(0, -this.cur.c);
      case "End":
        return move(0, this.data.lessons.length);
      case "Enter":
        e.preventDefault();
        if (e.ctrlKey || e.metaKey) this.startRoll(this.cur.c);
        else this.startEdit(null);
        return;
      case "F2":
        e.preventDefault();
        this.startEdit(null);
        return;
      case "Delete":
      case "Backspace":
        e.preventDefault();
        this.clearCurrent();
        return;
      case "*":
        e.preventDefault();
        this.startRoll(this.cur.c);
        return;
      case "F4":
        e.preventDefault();
        void this.historyPopover(this.cur.r, this.cur.c);
        return;
      default:
        if (e.altKey && (e.key === "h" || e.key === "H" || e.code === "KeyH")) {
          e.preventDefault();
          void this.historyPopover(this.cur.r, this.cur.c);
          return;
        }
        if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && e.key !== " ") {
          e.preventDefault();
          this.startEdit(e.key);
        }
    }
  }

  private lockedMessage(c: number): boolean {
    const l = this.data.lessons[c];
    if (l?.lock) {
      app.toast("grid.lessonLocked", { reason: l.lock }, "error");
      return true;
    }
    const s = this.data.students[this.cur.r];
    if (s && !s.active) {
      app.toast("grid.studentInactive", undefined, "error");
      return true;
    }
    return false;
  }

  private cellText(r: number, c: number): string {
    const cell = this.cells.get(key(this.data.lessons[c].id, this.data.students[r].id));
    if (!cell) return "";
    if (cell.grade !== null) return cell.status === "l" ? `l${cell.grade}` : String(cell.grade);
    return { p: "+", a: "nb", e: "e", l: "l" }[cell.status] ?? "";
  }

  private startEdit(initial: string | null): void {
    const { r, c } = this.cur;
    if (this.lockedMessage(c)) return;
    const td = this.cellEls[r]?.[c];
    if (!td) return;
    const original = this.cellText(r, c);
    const input = h("input", { class: "cell-editor", "data-testid": "cell-editor", spellcheck: "false", autocomplete: "off" });
    input.value = initial ?? original;
    setRaw(td, "");
    td.dataset.sig = "";
    td.append(input);
    this.editor = { input, r, c, original };
    input.focus();
    if (initial === null) input.select();
    input.addEventListener("keydown", (e) => {
      switch (e.key) {
        case "Enter":
          e.preventDefault();
          this.commitEditor(1, 0);
          break;
        case "Tab":
          e.preventDefault();
          this.commitEditor(0, e.shiftKey ? -1 : 1);
          break;
        case "ArrowDown":
          e.preventDefault();
          this.commitEditor(1, 0);
          break;
        case "ArrowUp":
          e.preventDefault();
          this.commitEditor(-1, 0);
          break;
        case "Escape":
          e.preventDefault();
          this.cancelEditor();
          break;
      }
    });
    input.addEventListener("blur", () => {
      if (this.editor?.input === input) this.commitEditor(0, 0, false);
    });
  }

  private closeEditor(): { r: number; c: number; value: string; original: string } | null {
    const ed = this.editor;
    if (!ed) return null;
    this.editor = null;
    const value = ed.input.value.trim();
    ed.input.remove();
    return { r: ed.r, c: ed.c, value, original: ed.original };
  }

  private cancelEditor(): void {
    const ed = this.closeEditor();
    if (!ed) return;
    this.paintCell(this.cellEls[ed.r][ed.c], this.data.lessons[ed.c], this.data.students[ed.r].id);
    this.scroll.focus({ preventScroll: true });
  }

  private commitEditor(dr: number, dc: number, refocus = true): void {
    const ed = this.closeEditor();
    if (!ed) return;
    const td = this.cellEls[ed.r][ed.c];
    const lesson = this.data.lessons[ed.c];
    const student = this.data.students[ed.r];
    if (ed.value === ed.original) {
      this.paintCell(td, lesson, student.id);
    } else {
      // Show what was typed at once; the patch replaces it when the replica has saved it.
      td.dataset.sig = "";
      setRaw(td, ed.value);
      td.classList.add("saving");
      const committed = performance.now();
      this.enqueue(async () => {
        const patch = ed.value === ""
          ? await api.clearCell({ journal: this.data.id, lesson: lesson.id, student: student.id })
          : await api.markCell({ journal: this.data.id, lesson: lesson.id, student: student.id, value: ed.value });
        this.applyPatch(patch);
        // From Enter to the saved value on screen: IPC, one durable SQLite transaction, repaint.
        perf().lastSaveMs = Math.round((performance.now() - committed) * 10) / 10;
      }, () => this.paintCell(td, lesson, student.id));
    }
    if (dr !== 0 || dc !== 0) {
      this.cur = {
        r: Math.max(0, Math.min(this.data.students.length - 1, ed.r + dr)),
        c: Math.max(0, Math.min(this.data.lessons.length - 1, ed.c + dc)),
      };
    }
    this.paintCursor();
    if (refocus) this.scroll.focus({ preventScroll: true });
  }

  private clearCurrent(): void {
    const { r, c } = this.cur;
    if (this.lockedMessage(c)) return;
    const lesson = this.data.lessons[c];
    const student = this.data.students[r];
    if (!this.cells.has(key(lesson.id, student.id))) return;
    const td = this.cellEls[r][c];
    td.classList.add("saving");
    this.enqueue(async () => {
      this.applyPatch(await api.clearCell({ journal: this.data.id, lesson: lesson.id, student: student.id }));
    }, () => this.paintCell(td, lesson, student.id));
  }

  private enqueue(op: () => Promise<void>, onError: () => void): void {
    this.queue = this.queue.then(op).catch((e) => {
      onError();
      app.showError(e);
    });
  }

  // ------------------------------------------------------------ everyone present, then absentees

  private startRoll(c: number): void {
    if (this.editor) this.commitEditor(0, 0);
    const lesson = this.data.lessons[c];
    if (!lesson) return;
    if (lesson.lock) {
      app.toast("grid.lessonLocked", { reason: lesson.lock }, "error");
      return;
    }
    const absent = new Set<number>();
    this.data.students.forEach((s, r) => {
      if (this.cells.get(key(lesson.id, s.id))?.status === "a") absent.add(r);
    });
    this.roll = { c, absent, typed: "" };
    if (this.cur.c !== c) this.cur = { r: 0, c };
    else this.cur = { r: this.cur.r, c };
    this.root.classList.add("rolling");
    this.headers[c].th.classList.add("roll-col");
    this.cellEls.forEach((row, r) => this.paintRollCell(row[c], r));
    this.paintRollBar();
    this.paintCursor();
    this.scroll.focus({ preventScroll: true });
  }

  private paintRollCell(td: HTMLTableCellElement, r: number): void {
    if (!this.roll) return;
    const active = this.data.students[r]?.active ?? false;
    td.dataset.sig = "";
    const absent = active && this.roll.absent.has(r);
    td.className = `c roll${absent ? " roll-absent" : ""}${td.classList.contains("cur") ? " cur" : ""}`;
    if (!active) {
      setRaw(td, "");
      return;
    }
    setText(td, absent ? "mark.a" : "mark.p");
  }

  private toggleAbsent(r: number): void {
    if (!this.roll || !this.data.students[r]?.active) return;
    if (this.roll.absent.has(r)) this.roll.absent.delete(r);
    else this.roll.absent.add(r);
    this.paintRollCell(this.cellEls[r][this.roll.c], r);
    this.paintRollBar();
  }

  private paintRollBar(): void {
    if (!this.roll) return;
    const lesson = this.data.lessons[this.roll.c];
    clear(this.rollBar);
    const save = button("grid.roll.save", () => void this.saveRoll(), { class: "btn btn-primary", "data-testid": "rollcall-save" });
    const cancel = button("grid.roll.cancel", () => this.endRoll(), { class: "btn" });
    const typed = this.roll.typed.trim();
    this.rollBar.append(
      icon(ICONS.check),
      tx("span", "grid.roll.title", { date: fmt.date(lesson.date), pair: lesson.pair }, { class: "strong" }),
      tx("span", "grid.roll.count", { n: this.roll.absent.size }, { "data-testid": "rollcall-count" }),
      typed
        ? tx("span", "grid.roll.typed", { text: typed }, { class: "rollcall-typed", "data-testid": "rollcall-typed" })
        : tx("span", "grid.roll.hint", undefined, { class: "muted" }),
      h("span", { class: "grow" }),
      cancel,
      save,
    );
    this.rollBar.hidden = false;
  }

  private typeRoll(text: string): void {
    if (!this.roll) return;
    this.roll.typed = text.replace(/^\s+/, "");
    this.paintRollBar();
  }

  private endRoll(): void {
    if (!this.roll) return;
    const c = this.roll.c;
    this.roll = null;
    this.root.classList.remove("rolling");
    this.rollBar.hidden = true;
    this.headers[c].th.classList.remove("roll-col");
    this.cellEls.forEach((row, r) => {
      row[c].classList.remove("roll", "roll-absent");
      this.paintCell(row[c], this.data.lessons[c], this.data.students[r].id);
    });
    this.scroll.focus({ preventScroll: true });
  }

  private async saveRoll(): Promise<void> {
    if (!this.roll) return;
    const { c, absent } = this.roll;
    const typed = this.roll.typed.trim();
    const lesson = this.data.lessons[c];
    const ids = [...absent]
      .map((r) => this.data.students[r].id)
      .filter((id) => lesson.subgroup === null || this.subgroups.get(id) === lesson.subgroup);
    if (typed) {
      // Typed rows or names are read by core; a row past the end or a name that fits two
      // students is refused with the reason, and the roll call stays open to correct it.
      try {
        await this.queue;
        const patch = await api.markLesson({ journal: this.data.id, lesson: lesson.id, absent: ids, typed });
        this.endRoll();
        this.applyPatch(patch);
        const marked = this.data.students.filter((s) => this.cells.get(key(lesson.id, s.id))?.status === "a").length;
        app.toast("grid.roll.saved", { n: marked });
        this.afterRoll(c);
      } catch (e) {
        app.showError(e);
      }
      return;
    }
    const count = absent.size;
    this.endRoll();
    this.enqueue(async () => {
      const patch = await api.markLesson({ journal: this.data.id, lesson: lesson.id, absent: ids, typed: null });
      this.applyPatch(patch);
      app.toast("grid.roll.saved", { n: count });
      this.afterRoll(c);
    }, () => undefined);
    await this.queue;
  }

  /** After a roll call, a lesson without a topic asks for one, the module's next preselected. */
  private afterRoll(c: number): void {
    const lesson = this.data.lessons[c];
    if (lesson && lesson.topic === null && lesson.status !== "cancelled" && this.root.isConnected) this.topicPopover(c);
  }

  // ------------------------------------------------------------ topics and lessons

  private closePopover(): void {
    this.popover?.remove();
    this.popover = null;
  }

  private topicPopover(c: number): void {
    this.closePopover();
    const lesson = this.data.lessons[c];
    if (lesson.lock) return;
    const th = this.headers[c].th;
    const rect = th.getBoundingClientRect();
    const pop = h("div", { class: "popover", "data-testid": "topic-popover", role: "dialog", "aria-label": t("grid.topicTitle", { date: fmt.date(lesson.date) }) });
    pop.style.left = `${Math.min(rect.left, window.innerWidth - 380)}px`;
    pop.style.top = `${rect.bottom + 4}px`;
    const filter = h("input", { class: "input", "data-testid": "topic-filter" });
    setPlaceholder(filter, "grid.topicFilter");
    const list = h("div", { class: "popover-list", role: "listbox", id: "topic-list" });
    filter.setAttribute("role", "combobox");
    filter.setAttribute("aria-controls", "topic-list");
    filter.setAttribute("aria-expanded", "true");
    let active = 0;
    const items = () => [...list.querySelectorAll<HTMLButtonElement>(".popover-item")];
    const activate = (i: number) => {
      const all = items();
      if (all.length === 0) return;
      active = Math.max(0, Math.min(all.length - 1, i));
      all.forEach((el, k) => {
        el.classList.toggle("active", k === active);
        el.setAttribute("aria-selected", String(k === active));
      });
      filter.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    };
    const choose = async (topic: string) => {
      this.closePopover();
      this.enqueue(async () => {
        this.applyPatch(await api.setTopic({ journal: this.data.id, lesson: lesson.id, topic }));
      }, () => undefined);
    };
    const fill = () => {
      clear(list);
      const q = filter.value.trim().toLowerCase();
      // The module's next unused topic of this lesson's type first (core's `LessonPlan`),
      // then the rest of that type, then the others, each in the module's order.
      const next = lesson.nextTopic;
      const topics = [...this.data.topics].sort((a, b) => {
        const na = a.name === next ? 0 : 1;
        const nb = b.name === next ? 0 : 1;
        const ma = a.lessonType === lesson.lessonType ? 0 : 1;
        const mb = b.lessonType === lesson.lessonType ? 0 : 1;
        return na - nb || ma - mb || a.position - b.position;
      });
      let shown = 0;
      for (const tp of topics) {
        if (q && !tp.name.toLowerCase().includes(q)) continue;
        const item = h("button", { type: "button", class: "popover-item", role: "option", id: `topic-opt-${shown}`, tabindex: -1 }, raw("span", tp.name));
        if (tp.name === next) {
          item.classList.add("suggested");
          item.dataset.testid = "topic-suggested";
          item.append(tx("span", "grid.topicNext", undefined, { class: "muted small" }));
        }
        if (tp.name === lesson.topic) item.classList.add("selected");
        item.addEventListener("click", () => void choose(tp.name));
        list.append(item);
        shown++;
      }
      if (q) {
        const own = h("button", { type: "button", class: "popover-item own" }, tx("span", "grid.topicOwn", { text: filter.value.trim() }));
        own.addEventListener("click", () => void choose(filter.value.trim()));
        list.append(own);
      } else if (shown === 0) {
        list.append(tx("div", "grid.noTopics", undefined, { class: "muted small pad" }));
      }
      activate(0);
    };
    filter.addEventListener("input", fill);
    filter.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        this.closePopover();
        this.scroll.focus({ preventScroll: true });
      } else if (e.key === "Enter") {
        e.preventDefault();
        items()[active]?.click();
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        activate(active + (e.key === "ArrowDown" ? 1 : -1));
      }
    });
    pop.append(tx("div", "grid.topicTitle", { date: fmt.date(lesson.date) }, { class: "popover-title" }), filter, list);
    fill();
    document.body.append(pop);
    this.popover = pop;
    filter.focus();
    const outside = (e: MouseEvent) => {
      if (!pop.contains(e.target as Node)) {
        this.closePopover();
        document.removeEventListener("mousedown", outside, true);
      }
    };
    document.addEventListener("mousedown", outside, true);
  }

  /** Every change of a cell (marks, adjustments, resolutions), each with its author as the
   * server recorded it: F4, Alt+H or a right click. */
  private async historyPopover(r: number, c: number): Promise<void> {
    this.closePopover();
    const lesson = this.data.lessons[c];
    const student = this.data.students[r];
    if (!lesson || !student) return;
    const td = this.table.querySelector<HTMLElement>(`td.c[data-r="${r}"][data-c="${c}"]`);
    const rect = (td ?? this.scroll).getBoundingClientRect();
    const pop = h("div", {
      class: "popover history-popover",
      "data-testid": "history-popover",
      role: "dialog",
      tabindex: -1,
      "aria-live": "polite",
    });
    pop.style.left = `${Math.max(8, Math.min(rect.left, window.innerWidth - 400))}px`;
    pop.style.top = `${Math.min(rect.bottom + 4, window.innerHeight - 200)}px`;
    const list = h("ul", { class: "popover-list history-list" });
    pop.append(
      tx("div", "grid.history.title", { name: student.name, date: fmt.date(lesson.date) }, { class: "popover-title" }),
      list,
    );
    document.body.append(pop);
    this.popover = pop;
    const close = () => {
      this.closePopover();
      document.removeEventListener("mousedown", outside, true);
      this.scroll.focus({ preventScroll: true });
    };
    const outside = (e: MouseEvent) => {
      if (!pop.contains(e.target as Node)) close();
    };
    document.addEventListener("mousedown", outside, true);
    pop.addEventListener("keydown", (e) => {
      if (e.key === "Escape" || e.key === "F4") {
        e.preventDefault();
        close();
      }
    });
    pop.focus({ preventScroll: true });
    let entries;
    try {
      entries = await api.cellHistory({ journal: this.data.id, lesson: lesson.id, student: student.id });
    } catch (err) {
      list.append(raw("li", String((err as { message?: string }).message ?? err), { class: "error" }));
      return;
    }
    if (this.popover !== pop) return;
    if (entries.length === 0) list.append(tx("li", "grid.history.empty", undefined, { class: "muted small pad" }));
    for (const e of entries) {
      const field = e.part === "marks" ? "mark" : e.part === "adjustments" ? "adjustment" : "resolution";
      const what: HTMLElement =
        e.value === null
          ? tx("span", "grid.history.cleared", undefined, { class: "strong" })
          : e.part === "marks"
            ? markView(field, e.value, e.display ?? e.value, { class: "strong" })
            : e.part === "adjustments"
              ? adjustmentView(e.value, e.display ?? e.value)
              : raw("span", e.display ?? e.value, { class: "strong" });
      list.append(
        h(
          "li",
          {
            class: "history-item",
            "data-testid": "history-item",
            "data-part": e.part,
            "data-user": e.user ?? "",
            "data-verified": String(e.verified),
          },
          raw("span", fmt.dateTime(e.editedAt), { class: "muted" }),
          tx("span", `grid.history.part.${field}` as Key, undefined, { class: "muted" }),
          what,
          tx("span", e.verified ? "grid.history.by" : "grid.history.byUnverified", { user: e.user ?? "?", device: e.device }),
          e.receivedAt !== null ? tx("span", "grid.history.received", { time: fmt.dateTime(e.receivedAt) }, { class: "muted" }) : null,
        ),
      );
    }
  }

  private addLessonDialog(): void {
    const date = h("input", { class: "input", "data-testid": "lesson-date" });
    setPlaceholder(date, "grid.datePlaceholder");
    date.value = fmt.date(fmt.today());
    const pair = h("select", { class: "input", "data-testid": "lesson-pair" });
    for (let p = 1; p <= 8; p++) pair.append(rawOption(String(p), String(p)));
    const type = h("select", { class: "input", "data-testid": "lesson-type" });
    for (const code of LESSON_TYPES) type.append(option(code, `lessonType.${code}` as Key));
    type.value = "13";
    const topic = h("select", { class: "input" });
    topic.append(option("", "grid.noTopicChoice"));
    for (const tp of this.data.topics) topic.append(rawOption(tp.name, tp.name));
    const subgroup = h("select", { class: "input", "data-testid": "lesson-subgroup-choice" });
    subgroup.append(option("", "lesson.wholeGroup"));
    const names = [...new Set(this.data.students.map((s) => s.subgroup).filter((g): g is string => !!g))].sort();
    for (const g of names) subgroup.append(option(g, "lesson.subgroupShort", { n: g }));
    const message = h("div", { class: "form-message" });
    // A day the calendar does not teach on: the server's words, and "add anyway".
    let confirmed = false;
    const field = (k: Key, input: HTMLElement) => h("label", { class: "field" }, tx("span", k, undefined, { class: "field-label" }), input);
    const dialog = h(
      "div",
      { class: "modal-back" },
      h(
        "form",
        { class: "card modal", "data-testid": "add-lesson-form" },
        tx("h2", "grid.addLesson"),
        h("div", { class: "form-row" }, field("grid.date", date), field("grid.pair", pair), field("grid.type", type)),
        h("div", { class: "form-row" }, field("grid.topic", topic), names.length > 0 ? field("lesson.subgroup", subgroup) : null),
        message,
        h(
          "div",
          { class: "actions" },
          button("common.cancel", () => dialog.remove(), { class: "btn" }),
          tx("button", "grid.addLesson", undefined, { type: "submit", class: "btn btn-primary", "data-testid": "add-lesson-submit" }),
        ),
      ),
    );
    dialog.querySelector("form")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      clear(message);
      const iso = fmt.parseDate(date.value);
      if (!iso) {
        message.append(tx("div", "error.field.date", undefined, { class: "form-error" }));
        return;
      }
      try {
        const grid = await api.addLesson({
          journal: this.data.id,
          date: iso,
          pair: Number(pair.value),
          lessonType: type.value,
          topic: topic.value || null,
          subgroup: subgroup.value || null,
          confirm: confirmed,
        });
        dialog.remove();
        this.data = grid;
        this.render();
        const c = grid.lessons.findIndex((l) => l.date === iso && l.pair === Number(pair.value));
        this.cur = { r: 0, c: Math.max(0, c) };
        this.paintCursor();
        app.toast("grid.lessonAdded");
      } catch (err) {
        if (this.askToConfirm(err, message, submit)) confirmed = true;
        else app.showError(err);
      }
    });
    const submit = dialog.querySelector<HTMLButtonElement>("[data-testid=add-lesson-submit]");
    for (const input of [date, pair]) input.addEventListener("change", () => (confirmed = false));
    this.root.append(dialog);
    date.focus();
  }

  /** A `conflict` answer that asks for confirmation (a holiday, a Sunday, a day outside the
   * semester): its reason in the form, and the submit button becomes "… anyway". */
  private askToConfirm(err: unknown, message: HTMLElement, submit: HTMLButtonElement | null): boolean {
    if (!(err instanceof IpcFailure) || err.error.kind !== "conflict") return false;
    clear(message);
    message.append(
      tx("div", "lesson.confirmDay", undefined, { class: "form-error", "data-testid": "confirm-day" }),
      raw("div", err.error.message, { class: "muted small" }),
    );
    if (submit) setText(submit, "lesson.anyway");
    return true;
  }

  /** Cancel a lesson that did not take place, or move one not yet held to another day. */
  private lessonDialog(c: number): void {
    const lesson = this.data.lessons[c];
    if (!lesson) return;
    const held = this.data.cells.some((x) => x.lesson === lesson.id);
    const date = h("input", { class: "input", "data-testid": "move-date" });
    setPlaceholder(date, "grid.datePlaceholder");
    date.value = fmt.date(lesson.date);
    const pair = h("select", { class: "input", "data-testid": "move-pair" });
    for (let p = 1; p <= 8; p++) pair.append(rawOption(String(p), String(p)));
    pair.value = String(lesson.pair);
    const message = h("div", { class: "form-message" });
    let confirmed = false;
    const field = (k: Key, input: HTMLElement) => h("label", { class: "field" }, tx("span", k, undefined, { class: "field-label" }), input);
    const close = () => {
      dialog.remove();
      this.scroll.focus({ preventScroll: true });
    };
    const run = async (action: "cancel" | "move", submit: HTMLButtonElement | null) => {
      clear(message);
      let iso: string | null = null;
      if (action === "move") {
        iso = fmt.parseDate(date.value);
        if (!iso) {
          message.append(tx("div", "error.field.date", undefined, { class: "form-error" }));
          return;
        }
      }
      try {
        const grid = await api.changeLesson({ journal: this.data.id, lesson: lesson.id, action, date: iso, pair: Number(pair.value), confirm: confirmed });
        close();
        this.data = grid;
        this.render();
        app.toast(action === "cancel" ? "lesson.cancelledToast" : "lesson.movedToast");
      } catch (err) {
        if (this.askToConfirm(err, message, submit)) confirmed = true;
        else app.showError(err);
      }
    };
    const moveButton = tx("button", "lesson.move", undefined, { type: "submit", class: "btn btn-primary", "data-testid": "move-submit" });
    const form = h(
      "form",
      { class: "card modal", "data-testid": "lesson-form" },
      tx("h2", "lesson.title", { date: fmt.date(lesson.date), pair: lesson.pair }),
      held
        ? tx("p", "lesson.heldHint", undefined, { class: "muted small" })
        : h("div", { class: "form-row" }, field("grid.date", date), field("grid.pair", pair)),
      message,
      h(
        "div",
        { class: "actions" },
        button("common.close", close, { class: "btn" }),
        button("lesson.cancel", () => void run("cancel", null), { class: "btn btn-danger", "data-testid": "lesson-cancel" }),
        held ? null : moveButton,
      ),
    );
    const dialog = h("div", { class: "modal-back" }, form);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!held) void run("move", moveButton);
    });
    for (const input of [date, pair]) input.addEventListener("change", () => (confirmed = false));
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
    });
    this.root.append(dialog);
    (held ? form.querySelector<HTMLButtonElement>("[data-testid=lesson-cancel]") : date)?.focus();
  }

  // ------------------------------------------------------------ control scores

  private scoresDialog(): void {
    const d = this.data;
    const close = () => {
      dialog.remove();
      this.scroll.focus({ preventScroll: true });
    };
    const body = h("div", { class: "scores-body" });
    const card = h(
      "div",
      { class: "card modal modal-wide", "data-testid": "scores-dialog", role: "dialog", "aria-modal": "true" },
      tx("h2", "scores.title"),
      raw("p", `${d.groupName} — ${d.subject}`, { class: "muted" }),
      body,
      h("div", { class: "actions" }, button("common.close", close, { class: "btn", "data-testid": "scores-close" })),
    );
    const dialog = h("div", { class: "modal-back" }, card);
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close();
      }
    });
    if (d.controls.length === 0) {
      body.append(tx("p", "scores.none", undefined, { class: "empty-note" }));
      this.root.append(dialog);
      return;
    }
    body.append(tx("p", d.lock ? "scores.locked" : "scores.hint", undefined, { class: "muted small" }));
    // The plan's sittings, and for JN and ON the retake sittings the dean's office permitted
    // someone (a student who was not admitted redoes them); a retake sitting takes scores only
    // from the students permitted it.
    const permitted = new Set(d.retakes.map((x) => `${x.student}|${x.sitting}`));
    const retakeSittings = [...new Set(d.retakes.map((x) => x.sitting))].sort();
    const columns: { code: string; sitting: number; max: number }[] = [];
    for (const c of d.controls) {
      for (let n = 1; n <= c.sittings; n++) columns.push({ code: c.code, sitting: n, max: c.max });
      if (c.kind !== "YN") for (const n of retakeSittings) if (n > c.sittings) columns.push({ code: c.code, sitting: n, max: c.max });
    }
    const shown = (sc: { points: number; absent: boolean } | undefined) => (sc === undefined ? "" : sc.absent ? t("scores.absent") : String(sc.points));
    const points = new Map(d.scores.map((sc) => [`${sc.control}|${sc.sitting}|${sc.student}`, sc]));
    const table = h("table", { class: "table compact scores-table", "data-testid": "scores-table" });
    const head = h("tr", {}, tx("th", "grid.student"));
    for (const col of columns) {
      const kind = d.controls.find((c) => c.code === col.code)?.kind ?? "JN";
      const th = h(
        "th",
        { class: "num" },
        raw("div", col.code, { class: "strong" }),
        col.sitting > 1 || (d.controls.find((c) => c.code === col.code)?.sittings ?? 1) > 1 ? tx("div", "scores.sitting", { n: col.sitting }, { class: "muted small" }) : null,
        tx("div", "scores.max", { max: col.max }, { class: "muted small" }),
      );
      setTitle(th, `control.${kind}` as Key);
      head.append(th);
    }
    table.append(h("thead", {}, head));
    const tbody = h("tbody");
    const inputs: HTMLInputElement[][] = [];
    d.students.forEach((st, r) => {
      const tr = h("tr", {}, raw("td", st.name, { class: "strong" }));
      const row: HTMLInputElement[] = [];
      columns.forEach((col, c) => {
        const value = points.get(`${col.code}|${col.sitting}|${st.id}`);
        const input = h("input", {
          class: "input score-input",
          inputmode: "decimal",
          "data-testid": "score-input",
          "data-control": col.code,
          "data-sitting": col.sitting,
          "data-student": st.id,
          "aria-label": `${st.name}, ${col.code} ${col.sitting}`,
        });
        input.value = shown(value);
        input.dataset.saved = input.value;
        const retakeClosed = col.sitting >= 2 && !permitted.has(`${st.id}|${col.sitting}`) && !points.has(`${col.code}|${col.sitting}|${st.id}`);
        input.disabled = d.lock !== null || !st.active || !app.info.canWriteJournals || retakeClosed;
        if (retakeClosed) setTitle(input, "scores.retakeNeeded", { n: col.sitting });
        let pending: string | null = null;
        const save = async () => {
          const text = input.value.trim();
          // An empty cell takes back an absence from the final; points are changed, not erased.
          const clearsAbsence = text === "" && input.dataset.saved === t("scores.absent");
          if (text === input.dataset.saved || (text === "" && !clearsAbsence)) {
            input.value = input.dataset.saved ?? "";
            return;
          }
          // Enter saves and moves on, and leaving the field fires `change` too: save once.
          if (text === pending) return;
          pending = text;
          input.classList.remove("invalid", "saved");
          try {
            const scores = await api.enterScore({ journal: d.id, control: col.code, sitting: col.sitting, student: st.id, points: text });
            this.data.scores = scores;
            const saved = scores.find((x) => x.control === col.code && x.sitting === col.sitting && x.student === st.id);
            input.value = shown(saved);
            input.dataset.saved = input.value;
            input.classList.add("saved");
            input.removeAttribute("aria-invalid");
            app.toast("scores.saved");
          } catch (e) {
            input.classList.add("invalid");
            input.setAttribute("aria-invalid", "true");
            app.showError(e);
          } finally {
            pending = null;
          }
        };
        input.addEventListener("keydown", (e) => {
          const move = (dr: number, dc: number) => {
            e.preventDefault();
            void save();
            const next = inputs[r + dr]?.[c + dc];
            next?.focus();
            next?.select();
          };
          if (e.key === "Enter" || e.key === "ArrowDown") move(1, 0);
          else if (e.key === "ArrowUp") move(-1, 0);
        });
        input.addEventListener("change", () => void save());
        row.push(input);
        tr.append(h("td", { class: "num" }, input));
      });
      inputs.push(row);
      tbody.append(tr);
    });
    table.append(tbody);
    body.append(h("div", { class: "scores-scroll" }, table));
    this.root.append(dialog);
    inputs[0]?.[0]?.focus();
  }

  // ------------------------------------------------------------ the dean's office: adjustments and closed lessons

  private adjustDialog(): void {
    const { r, c } = this.cur;
    const lesson = this.data.lessons[c];
    const student = this.data.students[r];
    const cell = lesson && student ? this.cells.get(key(lesson.id, student.id)) : undefined;
    if (!lesson || !student || !cell) {
      app.toast("adjust.noMark", undefined, "error");
      return;
    }
    const to = h("select", { class: "input", "data-testid": "adjust-to" });
    for (const [code, label] of [["e", "legend.excused"], ["p", "legend.present"], ["l", "legend.late"], ["a", "legend.absent"]] as const) {
      to.append(option(code, label));
    }
    to.value = cell.adjustedTo ?? (cell.status === "a" ? "e" : "p");
    const reason = h("input", { class: "input", "data-testid": "adjust-reason" });
    setPlaceholder(reason, "adjust.reasonPlaceholder");
    reason.value = cell.adjustmentReason ?? "";
    const documentNo = h("input", { class: "input", "data-testid": "adjust-document" });
    // What the decision is (HEMIS codes), and a make-up deadline when there is one.
    const kind = h("select", { class: "input", "data-testid": "adjust-kind" });
    for (const [code, label] of [["", "adjust.kind.auto"], ["11", "adjust.kind.11"], ["12", "adjust.kind.12"], ["14", "adjust.kind.14"], ["15", "adjust.kind.15"]] as const) {
      kind.append(option(code, label));
    }
    const deadline = h("input", { class: "input", "data-testid": "adjust-deadline" });
    setPlaceholder(deadline, "grid.datePlaceholder");
    const field = (k: Key, input: HTMLElement) => h("label", { class: "field" }, tx("span", k, undefined, { class: "field-label" }), input);
    const dialog = h(
      "div",
      { class: "modal-back" },
      h(
        "form",
        { class: "card modal", "data-testid": "adjust-form" },
        tx("h2", "adjust.title"),
        tx("p", "adjust.current", { student: student.name, date: fmt.date(lesson.date), mark: `@mark.${cell.status}` }, { class: "strong" }),
        tx("p", "adjust.hint", undefined, { class: "muted small" }),
        h("div", { class: "form-row" }, field("adjust.to", to), field("adjust.document", documentNo)),
        h("div", { class: "form-row" }, field("adjust.kind", kind), field("adjust.deadline", deadline)),
        field("adjust.reason", reason),
        h(
          "div",
          { class: "actions" },
          button("common.cancel", () => dialog.remove(), { class: "btn" }),
          tx("button", "adjust.save", undefined, { type: "submit", class: "btn btn-primary", "data-testid": "adjust-save" }),
        ),
      ),
    );
    dialog.querySelector("form")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const patch = await api.adjustMark({
          journal: this.data.id,
          lesson: lesson.id,
          student: student.id,
          to: to.value,
          reason: reason.value,
          document: documentNo.value.trim() || null,
          kind: kind.value || null,
          deadline: deadline.value.trim() || null,
        });
        dialog.remove();
        this.applyPatch(patch);
        app.toast("adjust.saved");
        this.scroll.focus({ preventScroll: true });
      } catch (err) {
        app.showError(err);
      }
    });
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "Escape") dialog.remove();
    });
    this.root.append(dialog);
    reason.focus();
  }

  /** A request to the dean's office to open a lesson whose entry window has closed. */
  private openingDialog(c: number): void {
    const lesson = this.data.lessons[c];
    if (!lesson) return;
    const reason = h("textarea", { class: "input", rows: 3, "data-testid": "opening-reason" });
    const form = h(
      "form",
      { class: "card modal", "data-testid": "opening-form" },
      tx("h2", "opening.title", { date: fmt.date(lesson.date) }),
      tx("p", "opening.hint", undefined, { class: "muted small" }),
      h("label", { class: "field" }, tx("span", "opening.reason", undefined, { class: "field-label" }), reason),
    );
    const dialog = h("div", { class: "modal-back" }, form);
    form.append(
      h(
        "div",
        { class: "actions" },
        button("common.cancel", () => dialog.remove(), { class: "btn" }),
        tx("button", "opening.send", undefined, { type: "submit", class: "btn btn-primary", "data-testid": "opening-send" }),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        this.applyPatch(await api.requestOpening({ journal: this.data.id, lesson: lesson.id, reason: reason.value }));
        dialog.remove();
        app.toast("opening.sent");
        this.scroll.focus({ preventScroll: true });
      } catch (err) {
        app.showError(err);
      }
    });
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "Escape") dialog.remove();
    });
    this.root.append(dialog);
    reason.focus();
  }

  private lockDialog(): void {
    const lesson = this.data.lessons[this.cur.c];
    if (!lesson) return;
    const date = fmt.date(lesson.date);
    const reason = h("input", { class: "input", "data-testid": "lock-reason" });
    const actions = h("div", { class: "actions" }, button("common.cancel", () => dialog.remove(), { class: "btn" }));
    const form = h("form", { class: "card modal", "data-testid": "lock-form" });
    const dialog = h("div", { class: "modal-back" }, form);
    if (lesson.lock) {
      form.append(
        tx("h2", "lock.lockedTitle", { date }),
        tx("p", "lock.reasonIs", { reason: lesson.lock }),
        actions,
      );
      actions.append(tx("button", "lock.reopen", undefined, { type: "submit", class: "btn btn-primary", "data-testid": "lock-reopen" }));
    } else {
      form.append(
        tx("h2", "lock.title", { date }),
        tx("p", "lock.hint", undefined, { class: "muted small" }),
        h("label", { class: "field" }, tx("span", "lock.reason", undefined, { class: "field-label" }), reason),
        actions,
      );
      actions.append(tx("button", "lock.save", undefined, { type: "submit", class: "btn btn-primary", "data-testid": "lock-save" }));
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const patch = lesson.lock
          ? await api.unlockLesson({ journal: this.data.id, lesson: lesson.id })
          : await api.lockLesson({ journal: this.data.id, lesson: lesson.id, reason: reason.value });
        dialog.remove();
        this.applyPatch(patch);
        app.toast(lesson.lock ? "lock.reopened" : "lock.saved");
        this.scroll.focus({ preventScroll: true });
      } catch (err) {
        app.showError(err);
      }
    });
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "Escape") dialog.remove();
    });
    this.root.append(dialog);
    if (!lesson.lock) reason.focus();
    else form.querySelector<HTMLButtonElement>("[data-testid=lock-reopen]")?.focus();
  }

  destroy(): void {
    this.closePopover();
    this.root.remove();
  }
}

registerScreen("grid", async (el, route) => {
  if (route.name !== "grid") return;
  const data = await api.openJournal(route.journal);
  const view = new GridView(el, data);
  return {
    onSynced: () => void view.reload().catch((e) => app.showError(e)),
    unmount: () => view.destroy(),
  };
});

/** Renders a synthetic students × lessons grid off screen and times it (used by the E2E). */
window.__daftarBench = (students: number, lessons: number) => {
  const ls: GridLesson[] = Array.from({ length: lessons }, (_, i) => ({
    id: `L${i}`,
    date: `2026-${String(9 + Math.floor(i / 30)).padStart(2, "0")}-${String((i % 28) + 1).padStart(2, "0")}`,
    pair: (i % 4) + 1,
    lessonType: i % 2 ? "13" : "11",
    topic: i % 3 ? `${i + 1}-mavzu. Nazariy asoslar` : null,
    status: "held",
    lock: null,
    entryClosed: false,
    complete: true,
    unmarked: 0,
    subgroup: null,
    nextTopic: null,
  }));
  const ss = Array.from({ length: students }, (_, i) => ({ id: `S${i}`, number: null, name: `Talaba ${i + 1}`, active: true, subgroup: null }));
  const cells: GridCell[] = [];
  for (const l of ls) {
    for (const s of ss) {
      const roll = (l.id.length * 7 + s.id.length * 13 + cells.length) % 17;
      const status = roll === 0 ? "a" : roll === 1 ? "e" : "p";
      cells.push({ lesson: l.id, student: s.id, status, hours: status === "p" ? 0 : 2, grade: status === "p" && roll % 2 ? 60 + roll : null, note: null, adjustedTo: null, adjustmentReason: null, effective: status, conflict: null });
    }
  }
  const data: JournalGrid = {
    id: "bench", subject: "Bench", semester: "1", groupName: "B", module: null, markingSystem: "rating100", gradeMin: 1, gradeMax: 100,
    lock: null, thresholds: [12, 36, 74], focusLesson: null, lessons: ls, students: ss, cells,
    totals: ss.map((s) => ({ student: s.id, excusedHours: 2, unexcusedHours: 14, standing: "warning", average: 71.5, fivePoint: 4, atRisk: false })),
    topics: [], resolutions: [], overruled: [], controls: [], scores: [], retakes: [], localTypes: {}, gradeBorders: [86, 71, 55], admissionPercent: 55, version: 0,
  };
  const host = h("div", { class: "bench-host" });
  const t0 = performance.now();
  const view = new GridView(host, data, false);
  const buildMs = performance.now() - t0;
  document.body.append(host);
  void host.offsetHeight;
  const renderMs = performance.now() - t0;
  const col = ls[Math.floor(lessons / 2)].id;
  const t1 = performance.now();
  view.applyPatch({
    journal: "bench",
    cells: ss.map((s) => ({ lesson: col, student: s.id, status: "a", hours: 2, grade: null, note: null, adjustedTo: null, adjustmentReason: null, effective: "a", conflict: null })),
    cleared: [],
    totals: data.totals,
    lessons: [],
  });
  void host.offsetHeight;
  const patchMs = performance.now() - t1;
  host.remove();
  return { renderMs: Math.round(renderMs * 10) / 10, buildMs: Math.round(buildMs * 10) / 10, patchMs: Math.round(patchMs * 100) / 100, cells: students * lessons };
};
