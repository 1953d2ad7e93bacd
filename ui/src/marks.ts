// A stored value as people read it in the current language: a mark's JSON (`{"s":"a","h":2}`)
// becomes NB / НБ / S / 85 like the grid shows it; other values (scores, topics) as given.

import { t, hasKey } from "./i18n";
import { h, raw, tx } from "./dom";

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

/** The same as an element that follows the language: a mark's symbol from the catalogue
 * (`mark.a` is NB, НБ…) with its grade as data; other values as data. */
export function markView(field: string, value: string, display: string, attrs: Record<string, string> = {}): HTMLElement {
  const el = h("span", attrs);
  if (field === "mark") {
    try {
      const m = JSON.parse(value) as { s?: string; g?: number };
      const k = `mark.${m.s ?? ""}`;
      if (hasKey(k)) {
        if (m.g !== undefined && m.s === "p") el.append(raw("span", String(m.g)));
        else {
          el.append(tx("span", k));
          if (m.g !== undefined) el.append(raw("span", String(m.g)));
        }
        return el;
      }
    } catch {
      // Not a mark value: show it as the core describes it.
    }
  }
  el.append(raw("span", display));
  return el;
}

/** A lesson type by its HEMIS code: the catalogue's name for the standard types 11–17, the
 * university's own name (sent by HEMIS) for its local codes, else the code itself. */
export function lessonTypeEl(code: string, local: { [key in string]?: string }, short = false, attrs: Record<string, string> = {}): HTMLElement {
  const k = `${short ? "lessonTypeShort" : "lessonType"}.${code}`;
  if (hasKey(k)) return tx("span", k, undefined, attrs);
  const name = local[code] ?? code;
  return raw("span", short && name.length > 10 ? `${name.slice(0, 9)}…` : name, { ...attrs, title: name });
}

/** The same as text (titles, chart labels). */
export function lessonTypeText(code: string, local: { [key in string]?: string }): string {
  const k = `lessonType.${code}`;
  return hasKey(k) ? t(k) : (local[code] ?? code);
}
