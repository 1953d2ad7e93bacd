// The translation catalogues and the current language. Every UI string is a key in
// `uz-Latn.json` (the default language), with the same keys in `uz-Cyrl.json`, `ru.json` and
// `en.json` (the compiler checks it here; a Rust test in src-tauri checks it for CI too).
//
// `{name}` in a text is replaced by `args.name`; an argument written `@key` is itself
// translated (e.g. a lesson type inside a sentence).

import uzLatn from "./uz-Latn.json";
import uzCyrl from "./uz-Cyrl.json";
import ru from "./ru.json";
import en from "./en.json";
import type { UiLanguage } from "../ipc/bindings/UiLanguage";

export type Key = keyof typeof uzLatn;
export type Args = Record<string, string | number>;
/** The shell's one list of UI languages (`UiLanguage` in `crates/ipc`): a language
 * added there fails to compile here until it has a catalogue below and a name in the app. */
export type Lang = UiLanguage;

const catalogues: Record<Lang, Record<Key, string>> = {
  "uz-Latn": uzLatn,
  "uz-Cyrl": uzCyrl satisfies Record<Key, string>,
  ru: ru satisfies Record<Key, string>,
  en: en satisfies Record<Key, string>,
};

export const LANGS = Object.keys(catalogues) as Lang[];

let current: Lang = "uz-Latn";
const listeners: Array<(lang: Lang) => void> = [];

export function lang(): Lang {
  return current;
}

export function isLang(v: string): v is Lang {
  return (LANGS as string[]).includes(v);
}

export function hasKey(key: string): key is Key {
  return key in uzLatn;
}

export function t(key: Key, args?: Args): string {
  let text: string = catalogues[current][key] ?? catalogues["uz-Latn"][key] ?? key;
  if (args) {
    text = text.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const v = args[name];
      if (v === undefined) return whole;
      if (typeof v === "string" && v.startsWith("@") && hasKey(v.slice(1))) return t(v.slice(1) as Key);
      return String(v);
    });
  }
  return text;
}

/** Switches the language and re-translates every marked element under `root`. */
export function setLang(next: Lang, root: ParentNode = document): void {
  current = next;
  document.documentElement.lang = next;
  retranslate(root);
  for (const l of listeners) l(next);
}

export function onLangChange(cb: (lang: Lang) => void): void {
  listeners.push(cb);
}

function parseArgs(el: Element, attr: string): Args | undefined {
  const a = el.getAttribute(attr);
  if (!a) return undefined;
  try {
    return JSON.parse(a) as Args;
  } catch {
    return undefined;
  }
}

/** Replaces an element's text but keeps its icons (a button's `<svg>` beside its label). */
function setTranslated(el: HTMLElement, text: string): void {
  if (el.childElementCount === 0) {
    el.textContent = text;
    return;
  }
  const texts = Array.from(el.childNodes).filter((n): n is Text => n.nodeType === Node.TEXT_NODE);
  if (texts.length === 0) {
    el.append(text);
    return;
  }
  texts[0].data = text;
  for (const extra of texts.slice(1)) extra.remove();
}

export function retranslate(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => {
    const key = el.getAttribute("data-i18n");
    if (key && hasKey(key)) setTranslated(el, t(key, parseArgs(el, "data-i18n-args")));
  });
  root.querySelectorAll<HTMLElement>("[data-i18n-title]").forEach((el) => {
    const key = el.getAttribute("data-i18n-title");
    if (key && hasKey(key)) el.title = t(key, parseArgs(el, "data-i18n-title-args"));
  });
  root.querySelectorAll<HTMLInputElement>("[data-i18n-placeholder]").forEach((el) => {
    const key = el.getAttribute("data-i18n-placeholder");
    if (key && hasKey(key)) el.placeholder = t(key);
  });
}
