// Hand-written SVG charts for the reports screen: hours missed per student against the
// 12/36/74-hour thresholds, attendance per lesson, and the 5-point grade distribution.
// Labels that are data carry `data-raw`; translated labels carry `data-i18n`.

import { t, hasKey, type Key } from "./i18n";
import type { LessonReport, HoursLine, StudentReport } from "./ipc";
import * as fmt from "./format";

const NS = "http://www.w3.org/2000/svg";

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) {
    el.textContent = text;
    el.setAttribute("data-raw", "");
  }
  return el;
}

function label(x: number, y: number, key: Key, attrs: Record<string, string | number> = {}, args?: Record<string, string | number>): SVGTextElement {
  const el = s("text", { x, y, ...attrs });
  el.setAttribute("data-i18n", key);
  if (args) el.setAttribute("data-i18n-args", JSON.stringify(args));
  el.textContent = t(key, args);
  return el;
}

/** What the hours chart draws per student (a journal's report row, or a semester row). */
export interface HoursRow {
  name: string;
  unexcusedHours: number;
  excusedHours: number;
  standing: StudentReport["standing"];
}

/** Stacked bars of excused and unexcused hours per student, with threshold lines. */
export function hoursChart(students: HoursRow[], thresholds: number[], testid = "hours-chart"): SVGSVGElement {
  const rows = [...students].sort((a, b) => b.unexcusedHours + b.excusedHours - (a.unexcusedHours + a.excusedHours));
  const barH = 16;
  const gap = 6;
  const left = 190;
  const width = 760;
  const plotW = width - left - 24;
  const top = 34;
  const height = top + rows.length * (barH + gap) + 16;
  const maxV = Math.max(80, ...rows.map((r) => r.unexcusedHours + r.excusedHours));
  const x = (v: number) => left + (v / maxV) * plotW;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "data-testid": testid });
  thresholds.forEach((th, i) => {
    const cls = ["th-warning", "th-reprimand", "th-expulsion"][i] ?? "th-warning";
    svg.append(s("line", { x1: x(th), x2: x(th), y1: top - 8, y2: height - 10, class: `threshold ${cls}` }));
    svg.append(label(x(th), top - 14, "chart.hoursMark", { class: `th-label ${cls}`, "text-anchor": "middle" }, { h: th }));
  });
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const name = r.name.length > 26 ? `${r.name.slice(0, 25)}…` : r.name;
    svg.append(s("text", { x: left - 8, y: y + barH - 4, class: "bar-label", "text-anchor": "end" }, name));
    svg.append(s("rect", { x: left, y, width: plotW, height: barH, class: "bar-track", rx: 3 }));
    const ex = r.excusedHours;
    const un = r.unexcusedHours;
    if (un > 0) svg.append(s("rect", { x: left, y, width: Math.max(2, x(un) - left), height: barH, class: `bar bar-${r.standing}`, rx: 3 }));
    if (ex > 0) svg.append(s("rect", { x: x(un), y, width: Math.max(2, x(un + ex) - x(un)), height: barH, class: "bar bar-excused", rx: 3 }));
    if (un + ex > 0) svg.append(s("text", { x: x(un + ex) + 6, y: y + barH - 4, class: "bar-value" }, `${un}+${ex}`));
  });
  return svg;
}

/** Attendance per lesson, in percent. */
export function attendanceChart(lessons: LessonReport[]): SVGSVGElement {
  const marked = lessons.filter((l) => l.attendancePercent !== null);
  const width = 760;
  const height = 220;
  const left = 40;
  const bottom = 34;
  const top = 12;
  const plotH = height - top - bottom;
  const n = Math.max(1, marked.length);
  const step = (width - left - 12) / n;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "data-testid": "attendance-chart" });
  for (const p of [0, 50, 100]) {
    const y = top + plotH - (p / 100) * plotH;
    svg.append(s("line", { x1: left, x2: width - 8, y1: y, y2: y, class: "grid-line" }));
    svg.append(s("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, `${p}%`));
  }
  marked.forEach((l, i) => {
    const v = l.attendancePercent ?? 0;
    const hgt = (v / 100) * plotH;
    const x0 = left + i * step + step * 0.15;
    const cls = v >= 90 ? "bar-good" : v >= 75 ? "bar-mid" : "bar-low";
    const rect = s("rect", { x: x0, y: top + plotH - hgt, width: step * 0.7, height: hgt, class: `bar ${cls}`, rx: 2 });
    const title = s("title", {}, `${fmt.date(l.date)}: ${fmt.percent(v)}`);
    rect.append(title);
    svg.append(rect);
    const every = Math.ceil(n / 10);
    if (i % every === 0) svg.append(s("text", { x: x0 + step * 0.35, y: height - 14, class: "axis", "text-anchor": "middle" }, fmt.date(l.date).slice(0, 5)));
  });
  if (marked.length === 0) svg.append(label(width / 2, height / 2, "chart.noData", { class: "axis", "text-anchor": "middle" }));
  return svg;
}

/** How many students have each 5-point grade. */
export function gradesChart(students: StudentReport[]): SVGSVGElement {
  const counts = [2, 3, 4, 5].map((g) => students.filter((st) => st.fivePoint === g).length);
  const width = 360;
  const height = 220;
  const bottom = 30;
  const top = 18;
  const plotH = height - top - bottom;
  const maxV = Math.max(1, ...counts);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "data-testid": "grades-chart" });
  counts.forEach((c, i) => {
    const bw = 52;
    const x0 = 30 + i * 82;
    const hgt = (c / maxV) * plotH;
    svg.append(s("rect", { x: x0, y: top + plotH - hgt, width: bw, height: Math.max(hgt, 1), class: `bar bar-g${i + 2}`, rx: 3 }));
    svg.append(s("text", { x: x0 + bw / 2, y: top + plotH - hgt - 5, class: "bar-value", "text-anchor": "middle" }, String(c)));
    svg.append(s("text", { x: x0 + bw / 2, y: height - 10, class: "axis strong", "text-anchor": "middle" }, String(i + 2)));
  });
  return svg;
}

/** Hours per lesson type against the module's plan: delivered, still scheduled, and the
 * shortfall the schedule does not cover, on one bar per type with the plan as a marker. */
export function planChart(rows: HoursLine[], local: { [key in string]?: string } = {}): SVGSVGElement {
  const barH = 18;
  const gap = 10;
  const left = 150;
  const width = 760;
  const plotW = width - left - 90;
  const top = 10;
  const height = top + Math.max(1, rows.length) * (barH + gap) + 8;
  const maxV = Math.max(2, ...rows.map((r) => Math.max(r.planned, r.delivered + r.scheduled)));
  const x = (v: number) => left + (v / maxV) * plotW;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "data-testid": "plan-chart" });
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const known = hasKey(`lessonType.${r.lessonType}`);
    svg.append(
      known
        ? label(left - 8, y + barH - 5, `lessonType.${r.lessonType}` as Key, { class: "bar-label", "text-anchor": "end" })
        : s("text", { x: left - 8, y: y + barH - 5, class: "bar-label", "text-anchor": "end" }, local[r.lessonType] ?? r.lessonType),
    );
    svg.append(s("rect", { x: left, y, width: plotW, height: barH, class: "bar-track", rx: 3 }));
    if (r.delivered > 0) svg.append(s("rect", { x: left, y, width: x(r.delivered) - left, height: barH, class: "bar bar-delivered", rx: 3 }));
    if (r.scheduled > 0) svg.append(s("rect", { x: x(r.delivered), y, width: x(r.delivered + r.scheduled) - x(r.delivered), height: barH, class: "bar bar-scheduled", rx: 3 }));
    if (r.shortfall > 0) svg.append(s("rect", { x: x(r.delivered + r.scheduled), y, width: x(r.planned) - x(r.delivered + r.scheduled), height: barH, class: "bar bar-short", rx: 3 }));
    if (r.planned > 0) svg.append(s("line", { x1: x(r.planned), x2: x(r.planned), y1: y - 3, y2: y + barH + 3, class: "plan-mark" }));
    svg.append(s("text", { x: x(Math.max(r.planned, r.delivered + r.scheduled)) + 8, y: y + barH - 5, class: "bar-value" }, `${r.delivered}/${r.planned}`));
  });
  if (rows.length === 0) svg.append(label(width / 2, height / 2 + 4, "chart.noData", { class: "axis", "text-anchor": "middle" }));
  return svg;
}
