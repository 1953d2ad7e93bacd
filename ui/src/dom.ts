// Small DOM helpers. Text a person reads comes either from the translation catalogue
// (`data-i18n`, set by `tx`) or is data (names, dates, numbers, symbols: `data-raw`, set by
// `raw`), so a screen can be checked for untranslated strings.

import { t, type Key, type Args } from "./i18n";

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

/** An element with attributes (`class`, `data-*`, `on*` handlers are not set here) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? raw("span", c) : c);
  }
  return el;
}

/** A translated element: its text follows the language. */
export function tx<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  key: Key,
  args?: Args,
  attrs: Attrs = {},
): HTMLElementTagNameMap[K] {
  const el = h(tag, attrs);
  setText(el, key, args);
  return el;
}

/** Sets a translated text on an element (replacing its children). */
export function setText(el: HTMLElement, key: Key, args?: Args): void {
  el.setAttribute("data-i18n", key);
  if (args && Object.keys(args).length > 0) el.setAttribute("data-i18n-args", JSON.stringify(args));
  else el.removeAttribute("data-i18n-args");
  el.removeAttribute("data-raw");
  el.textContent = t(key, args);
}

/** Data shown as is (names, numbers, dates, symbols). */
export function raw<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text: string,
  attrs: Attrs = {},
): HTMLElementTagNameMap[K] {
  const el = h(tag, attrs);
  setRaw(el, text);
  return el;
}

export function setRaw(el: HTMLElement, text: string): void {
  el.removeAttribute("data-i18n");
  el.removeAttribute("data-i18n-args");
  el.setAttribute("data-raw", "");
  el.textContent = text;
}

/** A translated tooltip. */
export function setTitle(el: HTMLElement, key: Key, args?: Args): void {
  el.setAttribute("data-i18n-title", key);
  if (args) el.setAttribute("data-i18n-title-args", JSON.stringify(args));
  el.title = t(key, args);
}

/** A translated placeholder. */
export function setPlaceholder(el: HTMLInputElement | HTMLTextAreaElement, key: Key): void {
  el.setAttribute("data-i18n-placeholder", key);
  el.placeholder = t(key);
}

/** A button with a translated label. */
export function button(key: Key, onClick: (ev: MouseEvent) => void, attrs: Attrs = {}, args?: Args): HTMLButtonElement {
  const b = tx("button", key, args, { type: "button", ...attrs });
  b.addEventListener("click", onClick);
  return b;
}

/** A small inline SVG icon from a path list (24×24 view box, stroked). */
export function icon(paths: string, cls = "icon"): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  svg.innerHTML = paths;
  return svg;
}

/** Empties an element and forgets which catalogue string it showed. */
export function blank(el: HTMLElement): void {
  el.removeAttribute("data-i18n");
  el.removeAttribute("data-i18n-args");
  el.textContent = "";
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** An `<option>` with a translated label. */
export function option(value: string, key: Key, args?: Args): HTMLOptionElement {
  const o = tx("option", key, args, { value });
  return o;
}

/** An `<option>` showing data. */
export function rawOption(value: string, text: string): HTMLOptionElement {
  return raw("option", text, { value });
}

export const ICONS = {
  journal:
    '<path d="M5 4h11a3 3 0 0 1 3 3v13H8a3 3 0 0 1-3-3z"/><path d="M5 17a3 3 0 0 1 3-3h11"/><path d="M9 8h6"/>',
  module: '<path d="M4 6h16M4 12h16M4 18h10"/>',
  group:
    '<circle cx="9" cy="8" r="3"/><path d="M3 20a6 6 0 0 1 12 0"/><circle cx="17" cy="9" r="2.5"/><path d="M16 14.5a5 5 0 0 1 5 5"/>',
  inbox: '<path d="M4 13l2.5-8h11L20 13v6H4z"/><path d="M4 13h5l1 2h4l1-2h5"/>',
  report: '<path d="M5 20V10M12 20V4M19 20v-7"/>',
  user: '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
  sync: '<path d="M20 11a8 8 0 0 0-14.6-4.5L4 8"/><path d="M4 4v4h4"/><path d="M4 13a8 8 0 0 0 14.6 4.5L20 16"/><path d="M20 20v-4h-4"/>',
  lock: '<rect x="5" y="11" width="14" height="9" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
  check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  back: '<path d="M15 5l-7 7 7 7"/>',
  warn: '<path d="M12 4l9 16H3z"/><path d="M12 10v4M12 17v.5"/>',
  download: '<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>',
  globe: '<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3a14 14 0 0 1 0 18M12 3a14 14 0 0 0 0 18"/>',
};
