// The grid's dialogs (add, move or cancel a lesson; scores; adjustments; openings; locks)
// and the history popover.

import { api, IpcFailure } from "../../ipc";
import { app } from "../../app";
import { h, tx, raw, setText, setTitle, button, clear, setPlaceholder, option, rawOption } from "../../dom";
import { t, type Key } from "../../i18n";
import * as fmt from "../../format";
import { markView } from "../../marks";
import { LESSON_TYPES, key, adjustmentView } from "./common";
import type { GridView } from "./view";
import { field, formDialog, type FormDialog } from "../../dialog";

/** Every change of a cell (marks, adjustments, resolutions), each with its author as the
 * server recorded it: F4, Alt+H or a right click. */
export async function historyPopover(g: GridView, r: number, c: number): Promise<void> {
  g.closePopover();
  const lesson = g.data.lessons[c];
  const student = g.data.students[r];
  if (!lesson || !student) return;
  const td = g.table.querySelector<HTMLElement>(`td.c[data-r="${r}"][data-c="${c}"]`);
  const rect = (td ?? g.scroll).getBoundingClientRect();
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
  g.popover = pop;
  const close = () => {
    g.closePopover();
    document.removeEventListener("mousedown", outside, true);
    g.scroll.focus({ preventScroll: true });
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
    entries = await api.cellHistory({ journal: g.data.id, lesson: lesson.id, student: student.id });
  } catch (err) {
    list.append(raw("li", String((err as { message?: string }).message ?? err), { class: "error" }));
    return;
  }
  if (g.popover !== pop) return;
  if (entries.length === 0) list.append(tx("li", "grid.history.empty", undefined, { class: "muted small pad" }));
  for (const e of entries) {
    const field = e.map === "marks" ? "mark" : e.map === "adjustments" ? "adjustment" : "resolution";
    const what: HTMLElement =
      e.value === null
        ? tx("span", "grid.history.cleared", undefined, { class: "strong" })
        : e.map === "marks"
          ? markView(field, e.value, e.display ?? e.value, { class: "strong" })
          : e.map === "adjustments"
            ? adjustmentView(e.value, e.display ?? e.value)
            : raw("span", e.display ?? e.value, { class: "strong" });
    list.append(
      h(
        "li",
        {
          class: "history-item",
          "data-testid": "history-item",
          "data-part": e.map,
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

export function addLessonDialog(g: GridView): void {
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
  for (const tp of g.data.topics) topic.append(rawOption(tp.name, tp.name));
  const subgroup = h("select", { class: "input", "data-testid": "lesson-subgroup-choice" });
  subgroup.append(option("", "lesson.wholeGroup"));
  const names = [...new Set(g.data.students.map((s) => s.subgroup).filter((x): x is string => !!x))].sort();
  for (const n of names) subgroup.append(option(n, "lesson.subgroupShort", { n }));
  // A day the calendar does not teach on: the server's words, and "add anyway".
  let confirmed = false;
  for (const input of [date, pair]) input.addEventListener("change", () => (confirmed = false));
  formDialog(g.root, {
    testid: "add-lesson-form",
    title: tx("h2", "grid.addLesson"),
    body: [
      h("div", { class: "form-row" }, field("grid.date", date), field("grid.pair", pair), field("grid.type", type)),
      h("div", { class: "form-row" }, field("grid.topic", topic), names.length > 0 ? field("lesson.subgroup", subgroup) : null),
    ],
    submit: { key: "grid.addLesson", testid: "add-lesson-submit" },
    focus: date,
    onSubmit: async (d) => {
      const iso = fmt.parseDate(date.value);
      if (!iso) {
        d.message.append(tx("div", "error.field.date", undefined, { class: "form-error" }));
        return;
      }
      try {
        const grid = await api.addLesson({
          journal: g.data.id,
          date: iso,
          pair: Number(pair.value),
          lessonType: type.value,
          topic: topic.value || null,
          subgroup: subgroup.value || null,
          confirm: confirmed,
        });
        d.close();
        g.data = grid;
        g.render();
        const c = grid.lessons.findIndex((l) => l.date === iso && l.pair === Number(pair.value));
        g.cur = { r: 0, c: Math.max(0, c) };
        g.paintCursor();
        app.toast("grid.lessonAdded");
      } catch (err) {
        if (askToConfirm(err, d.message, d.submit)) confirmed = true;
        else throw err;
      }
    },
  });
}

/** A `conflict` answer that asks for confirmation (a holiday, a Sunday, a day outside the
 * semester): its reason in the form, and the submit button becomes "… anyway". */
export function askToConfirm(err: unknown, message: HTMLElement, submit: HTMLButtonElement | null): boolean {
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
export function lessonDialog(g: GridView, c: number): void {
  const lesson = g.data.lessons[c];
  if (!lesson) return;
  const held = g.data.cells.some((x) => x.lesson === lesson.id);
  const date = h("input", { class: "input", "data-testid": "move-date" });
  setPlaceholder(date, "grid.datePlaceholder");
  date.value = fmt.date(lesson.date);
  const pair = h("select", { class: "input", "data-testid": "move-pair" });
  for (let p = 1; p <= 8; p++) pair.append(rawOption(String(p), String(p)));
  pair.value = String(lesson.pair);
  let confirmed = false;
  for (const input of [date, pair]) input.addEventListener("change", () => (confirmed = false));
  const run = async (d: FormDialog, action: "cancel" | "move") => {
    clear(d.message);
    let iso: string | null = null;
    if (action === "move") {
      iso = fmt.parseDate(date.value);
      if (!iso) {
        d.message.append(tx("div", "error.field.date", undefined, { class: "form-error" }));
        return;
      }
    }
    try {
      const grid = await api.changeLesson({ journal: g.data.id, lesson: lesson.id, action, date: iso, pair: Number(pair.value), confirm: confirmed });
      d.close();
      g.data = grid;
      g.render();
      app.toast(action === "cancel" ? "lesson.cancelledToast" : "lesson.movedToast");
    } catch (err) {
      if (askToConfirm(err, d.message, action === "move" ? d.submit : null)) confirmed = true;
      else app.showError(err);
    }
  };
  const dialog = formDialog(g.root, {
    testid: "lesson-form",
    title: tx("h2", "lesson.title", { date: fmt.date(lesson.date), pair: lesson.pair }),
    body: [
      held
        ? tx("p", "lesson.heldHint", undefined, { class: "muted small" })
        : h("div", { class: "form-row" }, field("grid.date", date), field("grid.pair", pair)),
    ],
    cancel: "common.close",
    extra: (d) => [button("lesson.cancel", () => void run(d, "cancel"), { class: "btn btn-danger", "data-testid": "lesson-cancel" })],
    submit: held ? null : { key: "lesson.move", testid: "move-submit" },
    onSubmit: (d) => run(d, "move"),
    onClose: () => g.scroll.focus({ preventScroll: true }),
    focus: held ? null : date,
  });
  if (held) dialog.form.querySelector<HTMLButtonElement>("[data-testid=lesson-cancel]")?.focus();
}

export function scoresDialog(g: GridView): void {
  const d = g.data;
  const close = () => {
    dialog.remove();
    g.scroll.focus({ preventScroll: true });
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
    g.root.append(dialog);
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
          g.data.scores = scores;
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
  g.root.append(dialog);
  inputs[0]?.[0]?.focus();
}

export function adjustDialog(g: GridView): void {
  const { r, c } = g.cur;
  const lesson = g.data.lessons[c];
  const student = g.data.students[r];
  const cell = lesson && student ? g.cells.get(key(lesson.id, student.id)) : undefined;
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
  formDialog(g.root, {
    testid: "adjust-form",
    title: tx("h2", "adjust.title"),
    body: [
      tx("p", "adjust.current", { student: student.name, date: fmt.date(lesson.date), mark: `@mark.${cell.status}` }, { class: "strong" }),
      tx("p", "adjust.hint", undefined, { class: "muted small" }),
      h("div", { class: "form-row" }, field("adjust.to", to), field("adjust.document", documentNo)),
      h("div", { class: "form-row" }, field("adjust.kind", kind), field("adjust.deadline", deadline)),
      field("adjust.reason", reason),
    ],
    submit: { key: "adjust.save", testid: "adjust-save" },
    focus: reason,
    onSubmit: async (d) => {
      const patch = await api.adjustMark({
        journal: g.data.id,
        lesson: lesson.id,
        student: student.id,
        to: to.value,
        reason: reason.value,
        document: documentNo.value.trim() || null,
        kind: kind.value || null,
        deadline: deadline.value.trim() || null,
      });
      d.close();
      g.applyPatch(patch);
      app.toast("adjust.saved");
      g.scroll.focus({ preventScroll: true });
    },
  });
}

/** A request to the dean's office to open a lesson whose entry window has closed. */
export function openingDialog(g: GridView, c: number): void {
  const lesson = g.data.lessons[c];
  if (!lesson) return;
  const reason = h("textarea", { class: "input", rows: 3, "data-testid": "opening-reason" });
  formDialog(g.root, {
    testid: "opening-form",
    title: tx("h2", "opening.title", { date: fmt.date(lesson.date) }),
    body: [tx("p", "opening.hint", undefined, { class: "muted small" }), field("opening.reason", reason)],
    submit: { key: "opening.send", testid: "opening-send" },
    focus: reason,
    onSubmit: async (d) => {
      g.applyPatch(await api.requestOpening({ journal: g.data.id, lesson: lesson.id, reason: reason.value }));
      d.close();
      app.toast("opening.sent");
      g.scroll.focus({ preventScroll: true });
    },
  });
}

export function lockDialog(g: GridView): void {
  const lesson = g.data.lessons[g.cur.c];
  if (!lesson) return;
  const date = fmt.date(lesson.date);
  const reason = h("input", { class: "input", "data-testid": "lock-reason" });
  const locked = lesson.lock;
  formDialog(g.root, {
    testid: "lock-form",
    title: tx("h2", locked ? "lock.lockedTitle" : "lock.title", { date }),
    body: locked
      ? [tx("p", "lock.reasonIs", { reason: locked })]
      : [tx("p", "lock.hint", undefined, { class: "muted small" }), field("lock.reason", reason)],
    submit: locked ? { key: "lock.reopen", testid: "lock-reopen" } : { key: "lock.save", testid: "lock-save" },
    onSubmit: async (d) => {
      const patch = locked
        ? await api.unlockLesson({ journal: g.data.id, lesson: lesson.id })
        : await api.lockLesson({ journal: g.data.id, lesson: lesson.id, reason: reason.value });
      d.close();
      g.applyPatch(patch);
      app.toast(locked ? "lock.reopened" : "lock.saved");
      g.scroll.focus({ preventScroll: true });
    },
  });
}
