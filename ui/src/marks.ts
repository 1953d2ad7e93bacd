// A stored value as people read it in the current language: a mark's JSON (`{"s":"a","h":2}`)
// becomes NB / НБ / S / 85 like the grid shows it; other values (scores, topics) as given.

import { t, hasKey } from "./i18n";

export function markText(field: string, value: string, display: string): string {
  if (field !== "mark") return display;
  try {
    const m = JSON.parse(value) as { s?: string; g?: number };
    const k = `mark.${m.s ?? ""}`;
    if (!hasKey(k)) return display;
    if (m.g !== undefined && m.s === "p") return String(m.g);
    return m.g !== undefined ? `${t(k)}${m.g}` : t(k);
  } catch {
    return display;
  }
}
