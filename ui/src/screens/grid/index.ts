// The journal grid screen (`grid/view.ts` is the grid).

import { api, type CellView, type GridLesson, type JournalGrid } from "../../ipc";
import { app, registerScreen } from "../../app";
import { h } from "../../dom";
import { GridView } from "./view";

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
  const cells: CellView[] = [];
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
    totals: ss.map((s) => ({ student: s.id, excusedHours: 2, unexcusedHours: 14, semesterUnexcusedHours: 14, semesterExcusedHours: 2, standing: "warning", average: 71.5, fivePoint: 4, atRisk: false })),
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
