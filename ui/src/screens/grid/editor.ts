// Typing into a cell: the inline editor, committing and clearing a mark.

import { api } from "../../ipc";
import { app } from "../../app";
import { h, setRaw } from "../../dom";
import { perf, key } from "./common";
import type { GridView } from "./view";

export function lockedMessage(g: GridView, c: number): boolean {
  const l = g.data.lessons[c];
  if (l?.lock) {
    app.toast("grid.lessonLocked", { reason: l.lock }, "error");
    return true;
  }
  const s = g.data.students[g.cur.r];
  if (s && !s.active) {
    app.toast("grid.studentInactive", undefined, "error");
    return true;
  }
  return false;
}

export function cellText(g: GridView, r: number, c: number): string {
  const cell = g.cells.get(key(g.data.lessons[c].id, g.data.students[r].id));
  if (!cell) return "";
  if (cell.grade !== null) return cell.status === "l" ? `l${cell.grade}` : String(cell.grade);
  return { p: "+", a: "nb", e: "e", l: "l" }[cell.status] ?? "";
}

export function startEdit(g: GridView, initial: string | null): void {
  const { r, c } = g.cur;
  if (lockedMessage(g, c)) return;
  const td = g.cellEls[r]?.[c];
  if (!td) return;
  const original = cellText(g, r, c);
  const input = h("input", { class: "cell-editor", "data-testid": "cell-editor", spellcheck: "false", autocomplete: "off" });
  input.value = initial ?? original;
  setRaw(td, "");
  td.dataset.sig = "";
  td.append(input);
  g.editor = { input, r, c, original };
  input.focus();
  if (initial === null) input.select();
  input.addEventListener("keydown", (e) => {
    switch (e.key) {
      case "Enter":
        e.preventDefault();
        commitEditor(g, 1, 0);
        break;
      case "Tab":
        e.preventDefault();
        commitEditor(g, 0, e.shiftKey ? -1 : 1);
        break;
      case "ArrowDown":
        e.preventDefault();
        commitEditor(g, 1, 0);
        break;
      case "ArrowUp":
        e.preventDefault();
        commitEditor(g, -1, 0);
        break;
      case "Escape":
        e.preventDefault();
        cancelEditor(g);
        break;
    }
  });
  input.addEventListener("blur", () => {
    if (g.editor?.input === input) commitEditor(g, 0, 0, false);
  });
}

export function closeEditor(g: GridView): { r: number; c: number; value: string; original: string } | null {
  const ed = g.editor;
  if (!ed) return null;
  g.editor = null;
  const value = ed.input.value.trim();
  ed.input.remove();
  return { r: ed.r, c: ed.c, value, original: ed.original };
}

export function cancelEditor(g: GridView): void {
  const ed = closeEditor(g);
  if (!ed) return;
  g.paintCell(g.cellEls[ed.r][ed.c], g.data.lessons[ed.c], g.data.students[ed.r].id);
  g.scroll.focus({ preventScroll: true });
}

export function commitEditor(g: GridView, dr: number, dc: number, refocus = true): void {
  const ed = closeEditor(g);
  if (!ed) return;
  const td = g.cellEls[ed.r][ed.c];
  const lesson = g.data.lessons[ed.c];
  const student = g.data.students[ed.r];
  if (ed.value === ed.original) {
    g.paintCell(td, lesson, student.id);
  } else {
    // Show what was typed at once; the patch replaces it when the replica has saved it.
    td.dataset.sig = "";
    setRaw(td, ed.value);
    td.classList.add("saving");
    const committed = performance.now();
    g.enqueue(async () => {
      const patch = ed.value === ""
        ? await api.clearCell({ journal: g.data.id, lesson: lesson.id, student: student.id })
        : await api.markCell({ journal: g.data.id, lesson: lesson.id, student: student.id, value: ed.value });
      g.applyPatch(patch);
      // From Enter to the saved value on screen: IPC, one durable SQLite transaction, repaint.
      perf().lastSaveMs = Math.round((performance.now() - committed) * 10) / 10;
    }, () => g.paintCell(td, lesson, student.id));
  }
  if (dr !== 0 || dc !== 0) {
    g.cur = {
      r: Math.max(0, Math.min(g.data.students.length - 1, ed.r + dr)),
      c: Math.max(0, Math.min(g.data.lessons.length - 1, ed.c + dc)),
    };
  }
  g.paintCursor();
  if (refocus) g.scroll.focus({ preventScroll: true });
}

export function clearCurrent(g: GridView): void {
  const { r, c } = g.cur;
  if (lockedMessage(g, c)) return;
  const lesson = g.data.lessons[c];
  const student = g.data.students[r];
  if (!g.cells.has(key(lesson.id, student.id))) return;
  const td = g.cellEls[r][c];
  td.classList.add("saving");
  g.enqueue(async () => {
    g.applyPatch(await api.clearCell({ journal: g.data.id, lesson: lesson.id, student: student.id }));
  }, () => g.paintCell(td, lesson, student.id));
}
