// The roll call (`*`, row numbers or names, Enter) and the topic picker that follows it.

import { api } from "../../ipc";
import { app } from "../../app";
import { h, tx, raw, setText, setRaw, button, clear, icon, ICONS, setPlaceholder } from "../../dom";
import { t } from "../../i18n";
import * as fmt from "../../format";
import { key } from "./common";
import type { GridView } from "./view";
import { commitEditor } from "./editor";

export function startRoll(g: GridView, c: number): void {
  if (g.editor) commitEditor(g, 0, 0);
  const lesson = g.data.lessons[c];
  if (!lesson) return;
  if (lesson.lock) {
    app.toast("grid.lessonLocked", { reason: lesson.lock }, "error");
    return;
  }
  const absent = new Set<number>();
  g.data.students.forEach((s, r) => {
    if (g.cells.get(key(lesson.id, s.id))?.status === "a") absent.add(r);
  });
  g.roll = { c, absent, typed: "" };
  if (g.cur.c !== c) g.cur = { r: 0, c };
  else g.cur = { r: g.cur.r, c };
  g.root.classList.add("rolling");
  g.headers[c].th.classList.add("roll-col");
  g.cellEls.forEach((row, r) => paintRollCell(g, row[c], r));
  paintRollBar(g);
  g.paintCursor();
  g.scroll.focus({ preventScroll: true });
}

export function paintRollCell(g: GridView, td: HTMLTableCellElement, r: number): void {
  if (!g.roll) return;
  const active = g.data.students[r]?.active ?? false;
  td.dataset.sig = "";
  const absent = active && g.roll.absent.has(r);
  td.className = `c roll${absent ? " roll-absent" : ""}${td.classList.contains("cur") ? " cur" : ""}`;
  if (!active) {
    setRaw(td, "");
    return;
  }
  setText(td, absent ? "mark.a" : "mark.p");
}

export function toggleAbsent(g: GridView, r: number): void {
  if (!g.roll || !g.data.students[r]?.active) return;
  if (g.roll.absent.has(r)) g.roll.absent.delete(r);
  else g.roll.absent.add(r);
  paintRollCell(g, g.cellEls[r][g.roll.c], r);
  paintRollBar(g);
}

export function paintRollBar(g: GridView): void {
  if (!g.roll) return;
  const lesson = g.data.lessons[g.roll.c];
  clear(g.rollBar);
  const save = button("grid.roll.save", () => void saveRoll(g), { class: "btn btn-primary", "data-testid": "rollcall-save" });
  const cancel = button("grid.roll.cancel", () => endRoll(g), { class: "btn" });
  const typed = g.roll.typed.trim();
  g.rollBar.append(
    icon(ICONS.check),
    tx("span", "grid.roll.title", { date: fmt.date(lesson.date), pair: lesson.pair }, { class: "strong" }),
    tx("span", "grid.roll.count", { n: g.roll.absent.size }, { "data-testid": "rollcall-count" }),
    typed
      ? tx("span", "grid.roll.typed", { text: typed }, { class: "rollcall-typed", "data-testid": "rollcall-typed" })
      : tx("span", "grid.roll.hint", undefined, { class: "muted" }),
    h("span", { class: "grow" }),
    cancel,
    save,
  );
  g.rollBar.hidden = false;
}

export function typeRoll(g: GridView, text: string): void {
  if (!g.roll) return;
  g.roll.typed = text.replace(/^\s+/, "");
  paintRollBar(g);
}

export function endRoll(g: GridView): void {
  if (!g.roll) return;
  const c = g.roll.c;
  g.roll = null;
  g.root.classList.remove("rolling");
  g.rollBar.hidden = true;
  g.headers[c].th.classList.remove("roll-col");
  g.cellEls.forEach((row, r) => {
    row[c].classList.remove("roll", "roll-absent");
    g.paintCell(row[c], g.data.lessons[c], g.data.students[r].id);
  });
  g.scroll.focus({ preventScroll: true });
}

export async function saveRoll(g: GridView): Promise<void> {
  if (!g.roll) return;
  const { c, absent } = g.roll;
  const typed = g.roll.typed.trim();
  const lesson = g.data.lessons[c];
  const ids = [...absent]
    .map((r) => g.data.students[r].id)
    .filter((id) => lesson.subgroup === null || g.subgroups.get(id) === lesson.subgroup);
  if (typed) {
    // Typed rows or names are read by core; a row past the end or a name that fits two
    // students is refused with the reason, and the roll call stays open to correct it.
    try {
      await g.queue;
      const patch = await api.markLesson({ journal: g.data.id, lesson: lesson.id, absent: ids, typed });
      endRoll(g);
      g.applyPatch(patch);
      const marked = g.data.students.filter((s) => g.cells.get(key(lesson.id, s.id))?.status === "a").length;
      app.toast("grid.roll.saved", { n: marked });
      afterRoll(g, c);
    } catch (e) {
      app.showError(e);
    }
    return;
  }
  const count = absent.size;
  endRoll(g);
  g.enqueue(async () => {
    const patch = await api.markLesson({ journal: g.data.id, lesson: lesson.id, absent: ids, typed: null });
    g.applyPatch(patch);
    app.toast("grid.roll.saved", { n: count });
    afterRoll(g, c);
  }, () => undefined);
  await g.queue;
}

/** After a roll call, a lesson without a topic asks for one, the module's next preselected. */
export function afterRoll(g: GridView, c: number): void {
  const lesson = g.data.lessons[c];
  if (lesson && lesson.topic === null && lesson.status !== "cancelled" && g.root.isConnected) topicPopover(g, c);
}

export function topicPopover(g: GridView, c: number): void {
  g.closePopover();
  const lesson = g.data.lessons[c];
  if (lesson.lock) return;
  const th = g.headers[c].th;
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
    g.closePopover();
    g.enqueue(async () => {
      g.applyPatch(await api.setTopic({ journal: g.data.id, lesson: lesson.id, topic }));
    }, () => undefined);
  };
  const fill = () => {
    clear(list);
    const q = filter.value.trim().toLowerCase();
    // The module's next unused topic of this lesson's type first (core's `LessonPlan`),
    // then the rest of that type, then the others, each in the module's order.
    const next = lesson.nextTopic;
    const topics = [...g.data.topics].sort((a, b) => {
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
      g.closePopover();
      g.scroll.focus({ preventScroll: true });
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
  g.popover = pop;
  filter.focus();
  const outside = (e: MouseEvent) => {
    if (!pop.contains(e.target as Node)) {
      g.closePopover();
      document.removeEventListener("mousedown", outside, true);
    }
  };
  document.addEventListener("mousedown", outside, true);
}
