// Sign in: server address, user, password. The token goes to the OS keyring (or stays in
// memory for this session when there is none); the app keeps working offline either way.

import { api, IpcFailure } from "../ipc";
import { app, errorKey, registerScreen } from "../app";
import { h, tx, raw, setPlaceholder, setText, clear } from "../dom";
import { t } from "../i18n";

registerScreen("signin", (el) => {
  const server = h("input", { class: "input", name: "server", autocomplete: "url", "data-testid": "signin-server" });
  setPlaceholder(server, "signin.serverPlaceholder");
  const user = h("input", { class: "input", name: "user", autocomplete: "username", "data-testid": "signin-user" });
  const password = h("input", { class: "input", name: "password", type: "password", autocomplete: "current-password", "data-testid": "signin-password" });
  // The servers used before on this computer (and the demo's own), the last one filled in.
  const used = h("datalist", { id: "signin-servers", "data-testid": "signin-servers" });
  for (const s of app.info.serversUsed) used.append(h("option", { value: s }));
  server.setAttribute("list", "signin-servers");
  if (app.info.server) server.value = app.info.server;
  else if (app.info.serversUsed.length > 0) server.value = app.info.serversUsed[0];
  const message = h("div", { class: "form-message", "data-testid": "signin-message", role: "alert" });
  const submit = tx("button", "signin.submit", undefined, { type: "submit", class: "btn btn-primary btn-block", "data-testid": "signin-submit" });

  const field = (key: "signin.server" | "signin.user" | "signin.password", input: HTMLInputElement) =>
    h("label", { class: "field" }, tx("span", key, undefined, { class: "field-label" }), input);

  const form = h(
    "form",
    { class: "card signin-card", "data-testid": "signin-form" },
    h("div", { class: "signin-brand" }, raw("div", "D", { class: "brand-mark big" }), raw("div", "Daftar", { class: "signin-name" })),
    tx("h1", "signin.title"),
    tx("p", "signin.subtitle", undefined, { class: "muted" }),
    field("signin.server", server),
    used,
    field("signin.user", user),
    field("signin.password", password),
    message,
    submit,
    tx("p", "signin.keyringNote", undefined, { class: "muted small" }),
  );
  if (app.info.signedIn) {
    form.insertBefore(tx("p", "signin.already", { user: app.info.user }, { class: "note" }), server.parentElement);
  } else if (!app.info.demo && (app.status?.waiting ?? 0) > 0) {
    // Changes made here before signing out are kept and go up after the next sign-in.
    const n = app.status?.waiting ?? 0;
    form.insertBefore(tx("p", "signin.waiting", { n }, { class: "note", "data-testid": "signin-waiting" }), server.parentElement);
  }
  const offline = h("button", { type: "button", class: "btn btn-link" });
  setText(offline, "signin.workOffline");
  offline.addEventListener("click", () => void app.navigate({ name: "journals" }));
  form.append(offline);

  const attempt = async (discardDemo: boolean) => {
    clear(message);
    message.className = "form-message";
    submit.disabled = true;
    submit.classList.add("busy");
    try {
      const resp = await api.signIn({ server: server.value, user: user.value, password: password.value, discardDemo });
      password.value = "";
      app.info = resp.info;
      await app.refreshInfo();
      if (resp.keyring) app.toast("signin.done", { user: resp.info.user });
      else app.toast("signin.noKeyring", undefined, "error");
      await app.navigate({ name: "journals" });
    } catch (e) {
      if (e instanceof IpcFailure && e.error.kind === "conflict" && !discardDemo && app.info.demo) {
        if (window.confirm(t("signin.discardDemo"))) return attempt(true);
      }
      message.classList.add("form-error");
      if (e instanceof IpcFailure) {
        message.append(tx("div", errorKey(e.error)));
        if (e.error.kind !== "unauthorized") message.append(raw("div", e.error.message, { class: "small" }));
      } else {
        message.append(raw("div", String(e)));
      }
    } finally {
      submit.disabled = false;
      submit.classList.remove("busy");
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void attempt(false);
  });
  el.append(h("div", { class: "signin-wrap" }, form));
  (app.info.server ? user : server).focus();
});
