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
//
// This module is the grid itself (state, rendering, patches, keys); editor.ts types into a
// cell, rollcall.ts is the roll call and topic picker, dialogs.ts the dialogs and popovers.

import { api, type CellView, type GridLesson, type GridPatch, type JournalGrid, type Overruled, type StudentTotals } from "../../ipc";
import { app } from "../../app";
import { h, tx, raw, setText, setRaw, setTitle, button, clear, icon, ICONS } from "../../dom";
import { t, onLangChange, type Key } from "../../i18n";
import * as fmt from "../../format";
import { lessonTypeEl, markText, markView } from "../../marks";
import { perf, key, HeaderEls, RowEls } from "./common";
import { startEdit, commitEditor, clearCurrent } from "./editor";
import { startRoll, toggleAbsent, typeRoll, endRoll, saveRoll, topicPopover } from "./rollcall";
import { historyPopover, addLessonDialog, lessonDialog, scoresDialog, adjustDialog, openingDialog, lockDialog } from "./dialogs";

/** The grid. Its members are shared with the grid's other modules (not part of the screen's API). */
export class GridView {
  data: JournalGrid;
  cells = new Map<string, CellView>();
  totals = new Map<string, StudentTotals>();
  resolved = new Map<string, string>();
  overruled = new Map<string, Overruled>();
  cellEls: HTMLTableCellElement[][] = [];
  headers: HeaderEls[] = [];
  rows: RowEls[] = [];
  lessonIndex = new Map<string, number>();
  studentIndex = new Map<string, number>();
  cur = { r: 0, c: 0 };
  editor: { input: HTMLInputElement; r: number; c: number; original: string } | null = null;
  /** Roll call: the column, the ticked absentees, and rows or names being typed (`5 17`). */
  roll: { c: number; absent: Set<number>; typed: string } | null = null;
  queue: Promise<void> = Promise.resolve();
  popover: HTMLElement | null = null;

  readonly root: HTMLElement;
  scroll!: HTMLElement;
  table!: HTMLTableElement;
  rollBar!: HTMLElement;
  banners!: HTMLElement;
  readonly interactive: boolean;
  subgroups = new Map<string, string | null>();

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

  index(): void {
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
  overruledText(o: Overruled): string {
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
      const addLesson = button("grid.addLesson", () => addLessonDialog(this), { class: "btn", "data-testid": "add-lesson" });
      addLesson.prepend(icon(ICONS.plus));
      addLesson.disabled = d.lock !== null;
      const report = button("grid.report", () => void app.navigate({ name: "reports", journal: d.id }), { class: "btn" });
      report.prepend(icon(ICONS.report));
      const scores = button("grid.scores", () => scoresDialog(this), { class: "btn", "data-testid": "open-scores" });
      const dean: HTMLElement[] = [];
      if (app.info.canResolve) {
        dean.push(
          button("grid.adjust", () => adjustDialog(this), { class: "btn", "data-testid": "open-adjust" }),
          button("grid.lockLesson", () => lockDialog(this), { class: "btn", "data-testid": "open-lock" }),
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
      tx("th", "grid.unexcusedShort", undefined, {
        class: "tot sticky-r1",
        title: t("grid.unexcusedHours", { w: d.thresholds[0] ?? 12, r: d.thresholds[1] ?? 36, e: d.thresholds[2] ?? 74 }),
      }),
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

  legend(): HTMLElement {
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

  help(): HTMLElement {
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

  renderBanners(): void {
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

  lessonHeader(l: GridLesson, c: number): HeaderEls {
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
      lessonDialog(this, this.data.lessons.findIndex((x) => x.id === l.id));
    });
    this.paintHeader(els, l);
    ask.addEventListener("click", (e) => {
      e.stopPropagation();
      openingDialog(this, this.data.lessons.findIndex((x) => x.id === l.id));
    });
    if (this.interactive) {
      topic.addEventListener("click", (e) => {
        e.stopPropagation();
        topicPopover(this, c);
      });
      all.addEventListener("click", (e) => {
        e.stopPropagation();
        startRoll(this, c);
      });
    }
    return els;
  }

  // ------------------------------------------------------------ painting

  paintHeader(els: HeaderEls, l: GridLesson): void {
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

  paintCell(td: HTMLTableCellElement, lesson: GridLesson, student: string): void {
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

  symbol(status: string, grade: number | null): HTMLElement {
    if (grade !== null && status === "l") return h("span", {}, tx("span", "mark.l"), raw("span", String(grade)));
    if (grade !== null && status === "p") return raw("span", String(grade));
    return tx("span", `mark.${status}` as Key);
  }

  paintTotals(row: RowEls, tt: StudentTotals | undefined): void {
    setRaw(row.excused, tt ? String(tt.excusedHours) : "0");
    setRaw(row.unexcused, tt ? String(tt.unexcusedHours) : "0");
    // The row's colour is the semester's standing: say what it is judged on.
    if (tt) row.unexcused.title = t("grid.semesterHours", { subject: tt.unexcusedHours, un: tt.semesterUnexcusedHours, ex: tt.semesterExcusedHours });
    else row.unexcused.removeAttribute("title");
    const avg = tt?.average ?? null;
    setRaw(row.average, avg === null ? "—" : tt?.fivePoint ? `${fmt.num(avg)} (${tt.fivePoint})` : fmt.num(avg));
    const standing = tt?.standing ?? "ok";
    for (const cls of ["std-warning", "std-reprimand", "std-expulsion"]) {
      row.unexcused.classList.toggle(cls, cls === `std-${standing}`);
      row.tr.classList.toggle(cls, cls === `std-${standing}`);
    }
    row.tr.classList.toggle("at-risk", tt?.atRisk ?? false);
  }

  paintCursor(): void {
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

  ensureVisible(td: HTMLElement): void {
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

  repaint(lesson: string, student: string): void {
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

  wire(): void {
    this.scroll.addEventListener("keydown", (e) => this.onKey(e));
    this.table.addEventListener("mousedown", (e) => {
      const td = (e.target as HTMLElement).closest("td.c") as HTMLTableCellElement | null;
      if (!td) return;
      const r = Number(td.dataset.r);
      const c = Number(td.dataset.c);
      if (this.editor && (this.editor.r !== r || this.editor.c !== c)) commitEditor(this, 0, 0);
      if (this.roll) {
        if (c === this.roll.c) {
          this.cur = { r, c };
          toggleAbsent(this, r);
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
      void historyPopover(this, r, c);
    });
    this.table.addEventListener("dblclick", (e) => {
      const td = (e.target as HTMLElement).closest("td.c");
      if (td && !this.roll) startEdit(this, null);
    });
    this.scroll.focus({ preventScroll: true });
  }

  onKey(e: KeyboardEvent): void {
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
          if (this.roll.typed) typeRoll(this, this.roll.typed.endsWith(" ") ? this.roll.typed : `${this.roll.typed} `);
          else toggleAbsent(this, this.cur.r);
          return;
        case "Backspace":
          e.preventDefault();
          typeRoll(this, this.roll.typed.slice(0, -1));
          return;
        case "Enter":
          e.preventDefault();
          void saveRoll(this);
          return;
        case "Escape":
          e.preventDefault();
          if (this.roll.typed) typeRoll(this, "");
          else endRoll(this);
          return;
        default:
          if (e.key.length === 1) {
            e.preventDefault();
            // Row numbers and names (any Uzbek apostrophe): absentees typed, not ticked.
            if (!e.ctrlKey && !e.metaKey && !e.altKey && /^[\p{L}\p{N}'ʻʼ‘’`,-]$/u.test(e.key)) typeRoll(this, this.roll.typed + e.key);
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
        if (e.ctrlKey || e.metaKey) startRoll(this, this.cur.c);
        else startEdit(this, null);
        return;
      case "F2":
        e.preventDefault();
        startEdit(this, null);
        return;
      case "Delete":
      case "Backspace":
        e.preventDefault();
        clearCurrent(this);
        return;
      case "*":
        e.preventDefault();
        startRoll(this, this.cur.c);
        return;
      case "F4":
        e.preventDefault();
        void historyPopover(this, this.cur.r, this.cur.c);
        return;
      default:
        if (e.altKey && (e.key === "h" || e.key === "H" || e.code === "KeyH")) {
          e.preventDefault();
          void historyPopover(this, this.cur.r, this.cur.c);
          return;
        }
        if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && e.key !== " ") {
          e.preventDefault();
          startEdit(this, e.key);
        }
    }
  }

  enqueue(op: () => Promise<void>, onError: () => void): void {
    this.queue = this.queue.then(op).catch((e) => {
      onError();
      app.showError(e);
    });
  }

  // ------------------------------------------------------------ everyone present, then absentees

  // ------------------------------------------------------------ topics and lessons

  closePopover(): void {
    this.popover?.remove();
    this.popover = null;
  }

  // ------------------------------------------------------------ control scores

  // ------------------------------------------------------------ the dean's office: adjustments and closed lessons

  destroy(): void {
    this.closePopover();
    this.root.remove();
  }
}
