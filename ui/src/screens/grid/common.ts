// What the grid's modules share: lesson types, timings for the E2E, cell keys.

import { h, tx, raw } from "../../dom";
import { hasKey } from "../../i18n";

export const LESSON_TYPES = ["11", "12", "13", "14", "15", "16", "17"];

export interface Perf {
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

export function perf(): Perf {
  window.__daftarPerf ??= {};
  return window.__daftarPerf;
}

export const key = (lesson: string, student: string) => `${lesson}|${student}`;

/** An adjustment as people read it in the current language: → the mark it counts as, and why. */
export function adjustmentView(value: string, fallback: string): HTMLElement {
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

export interface HeaderEls {
  th: HTMLTableCellElement;
  date: HTMLElement;
  meta: HTMLElement;
  topic: HTMLButtonElement;
  all: HTMLButtonElement;
  lock: HTMLElement;
  ask: HTMLButtonElement;
  more: HTMLButtonElement;
}

export interface RowEls {
  tr: HTMLTableRowElement;
  excused: HTMLTableCellElement;
  unexcused: HTMLTableCellElement;
  average: HTMLTableCellElement;
}
