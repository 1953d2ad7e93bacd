// The one form dialog: a modal card with a title, fields, a message line, Cancel and a submit
// button; Escape or Cancel closes it, Enter submits. Each dialog gives only what it asks and
// what it does with the answer.

import { app } from "./app";
import { h, tx, button, clear } from "./dom";
import type { Key } from "./i18n";

/** A labelled field. */
export function field(label: Key, input: HTMLElement): HTMLElement {
  return h("label", { class: "field" }, tx("span", label, undefined, { class: "field-label" }), input);
}

/** An open form dialog. */
export interface FormDialog {
  form: HTMLFormElement;
  /** Where errors the dialog explains itself go (cleared on each submit). */
  message: HTMLElement;
  submit: HTMLButtonElement | null;
  close: () => void;
}

export interface FormDialogSpec {
  testid: string;
  title: HTMLElement;
  body: (HTMLElement | null)[];
  /** The submit button; none: the dialog only has its `extra` buttons and Cancel. */
  submit: { key: Key; testid: string } | null;
  /** More buttons, between Cancel and the submit button. */
  extra?: (d: FormDialog) => HTMLElement[];
  cancel?: Key;
  /** Runs on submit; an error it throws is shown (`app.showError`) and the dialog stays. */
  onSubmit?: (d: FormDialog) => Promise<void> | void;
  /** After the dialog closes, by any way (Cancel, Escape, or the submit's `close()`). */
  onClose?: () => void;
  /** What has the focus first (default: the first field). */
  focus?: HTMLElement | null;
}

/** Opens a form dialog over `host`. */
export function formDialog(host: HTMLElement, spec: FormDialogSpec): FormDialog {
  const message = h("div", { class: "form-message" });
  const form = h("form", { class: "card modal", "data-testid": spec.testid }) as HTMLFormElement;
  const back = h("div", { class: "modal-back" }, form);
  const submit = spec.submit
    ? (tx("button", spec.submit.key, undefined, { type: "submit", class: "btn btn-primary", "data-testid": spec.submit.testid }) as HTMLButtonElement)
    : null;
  const d: FormDialog = {
    form,
    message,
    submit,
    close: () => {
      back.remove();
      spec.onClose?.();
    },
  };
  const actions = h("div", { class: "actions" }, button(spec.cancel ?? "common.cancel", () => d.close(), { class: "btn" }), ...(spec.extra?.(d) ?? []), submit);
  form.append(spec.title, ...spec.body.filter((b): b is HTMLElement => b !== null), message, actions);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(message);
    try {
      await spec.onSubmit?.(d);
    } catch (err) {
      app.showError(err);
    }
  });
  back.addEventListener("keydown", (e) => {
    if (e.key === "Escape") d.close();
  });
  host.append(back);
  (spec.focus ?? form.querySelector<HTMLElement>("input, select, textarea, button[type=submit]"))?.focus();
  return d;
}
