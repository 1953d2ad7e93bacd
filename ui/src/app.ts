// The app shell: sidebar navigation, the screen area, the always-visible sync status bar,
// toasts, and the router that mounts one screen at a time.

import { api, onSyncStatus, IpcFailure, type AppInfo, type IpcError, type SyncStatus } from "./ipc";
import { setLang, isLang, lang, hasKey, type Key, type Lang, LANGS } from "./i18n";
import { h, tx, raw, setText, setRaw, setTitle, clear, blank, icon, ICONS, button } from "./dom";
import * as fmt from "./format";

export type Route =
  | { name: "journals" }
  | { name: "grid"; journal: string }
  | { name: "modules"; module?: string }
  | { name: "groups"; group?: string }
  | { name: "inbox" }
  | { name: "reports"; journal?: string }
  | { name: "signin" };

/** What a mounted screen may implement. */
export interface Screen {
  /** Called when a sync brought or sent changes. */
  onSynced?: () => void;
  /** Called before another screen replaces it. */
  unmount?: () => void;
}

type Mount = (el: HTMLElement, route: Route) => Promise<Screen | void> | Screen | void;

const screens: Partial<Record<Route["name"], Mount>> = {};

export function registerScreen(name: Route["name"], mount: Mount): void {
  screens[name] = mount;
}

const LANGUAGE_NAMES: Record<Lang, string> = {
  "uz-Latn": "Oʻzbekcha",
  "uz-Cyrl": "Ўзбекча",
  ru: "Русский",
  en: "English",
};

class App {
  info!: AppInfo;
  status: SyncStatus | null = null;
  route: Route = { name: "journals" };
  conflictCount = 0;

  private root!: HTMLElement;
  private screenEl!: HTMLElement;
  private screen: Screen | null = null;
  private navItems = new Map<Route["name"], HTMLElement>();
  private inboxBadge!: HTMLElement;
  private userBox!: HTMLElement;
  private status$!: {
    dot: HTMLElement;
    state: HTMLElement;
    waiting: HTMLElement;
    last: HTMLElement;
    progress: HTMLElement;
    error: HTMLElement;
    syncNow: HTMLButtonElement;
  };
  private toasts!: HTMLElement;
  private mountSeq = 0;

  async start(root: HTMLElement): Promise<void> {
    this.root = root;
    this.info = await api.getAppInfo();
    setLang(this.info.language);
    this.build();
    await onSyncStatus((s) => this.setStatus(s));
    this.setStatus(await api.getSyncStatus());
    void this.refreshConflictCount();
    await this.navigate({ name: "journals" });
  }

  private build(): void {
    clear(this.root);
    this.root.className = "shell";

    const nav = h("nav", { class: "nav" });
    const item = (name: Route["name"], key: Key, paths: string) => {
      const a = h("button", { type: "button", class: "nav-item", "data-nav": name });
      a.append(icon(paths), tx("span", key));
      a.addEventListener("click", () => void this.navigate({ name } as Route));
      this.navItems.set(name, a);
      nav.append(a);
      return a;
    };
    item("journals", "nav.journals", ICONS.journal);
    item("modules", "nav.modules", ICONS.module);
    item("groups", "nav.groups", ICONS.group);
    const inbox = item("inbox", "nav.inbox", ICONS.inbox);
    this.inboxBadge = raw("span", "", { class: "badge badge-warn", hidden: true });
    inbox.append(this.inboxBadge);
    item("reports", "nav.reports", ICONS.report);

    this.userBox = h("div", { class: "user-box" });
    const langSelect = h("select", { class: "lang-select", "data-testid": "language" });
    for (const l of LANGS) langSelect.append(raw("option", LANGUAGE_NAMES[l], { value: l }));
    langSelect.value = lang();
    langSelect.addEventListener("change", () => void this.switchLanguage(langSelect.value));
    const langRow = h("label", { class: "lang-row" }, icon(ICONS.globe), langSelect);

    const brand = h(
      "div",
      { class: "brand" },
      raw("div", "D", { class: "brand-mark" }),
      h("div", {}, raw("div", "Daftar", { class: "brand-name" }), tx("div", "app.tagline", undefined, { class: "brand-sub" })),
    );
    const sidebar = h("aside", { class: "sidebar" }, brand, nav, h("div", { class: "grow" }), this.userBox, langRow);

    this.screenEl = h("main", { class: "screen", id: "screen" });

    const dot = h("span", { class: "dot" });
    const state = h("span", { class: "sb-state", "data-testid": "sync-state" });
    const waiting = h("span", { class: "sb-item", "data-testid": "sync-waiting" });
    const last = h("span", { class: "sb-item", "data-testid": "sync-last" });
    const progress = h("span", { class: "sb-item sb-progress", "data-testid": "sync-progress" });
    const error = h("span", { class: "sb-error", "data-testid": "sync-error" });
    const syncNow = button("status.syncNow", () => void this.syncNow(), { class: "btn btn-small", "data-testid": "sync-now" });
    syncNow.prepend(icon(ICONS.sync));
    const bar = h(
      "footer",
      { class: "statusbar", "data-testid": "statusbar" },
      h("span", { class: "sb-left" }, dot, state),
      waiting,
      last,
      progress,
      error,
      h("span", { class: "grow" }),
      syncNow,
    );
    this.status$ = { dot, state, waiting, last, progress, error, syncNow };

    this.toasts = h("div", { class: "toasts", "aria-live": "polite" });
    this.root.append(sidebar, this.screenEl, bar, this.toasts);
    this.renderUser();
  }

  private renderUser(): void {
    clear(this.userBox);
    const info = this.info;
    if (info.signedIn) {
      const roleName = `role.${info.role ?? "teacher"}`;
      const roleKey: Key = isKey(roleName) ? roleName : "role.teacher";
      this.userBox.append(
        h("div", { class: "user-line" }, icon(ICONS.user), raw("span", info.user, { class: "user-name", "data-testid": "user-name" })),
        tx("div", roleKey, undefined, { class: "user-role" }),
        raw("div", info.server ?? "", { class: "user-server" }),
        button("signin.signOut", () => void this.signOut(), { class: "btn btn-link", "data-testid": "user-box-signout" }),
      );
    } else {
      this.userBox.append(
        tx("div", info.demo ? "user.demo" : "user.offline", undefined, { class: "user-role" }),
        button("signin.open", () => void this.navigate({ name: "signin" }), { class: "btn btn-primary btn-block", "data-testid": "nav-signin" }),
      );
    }
    const inbox = this.navItems.get("inbox");
    if (inbox) inbox.hidden = !info.canResolve;
  }

  async refreshInfo(): Promise<AppInfo> {
    this.info = await api.getAppInfo();
    this.renderUser();
    return this.info;
  }

  async refreshConflictCount(): Promise<void> {
    try {
      const conflicts = await api.listConflicts(null);
      this.conflictCount = conflicts.length;
      setRaw(this.inboxBadge, String(conflicts.length));
      this.inboxBadge.hidden = conflicts.length === 0;
    } catch {
      // The badge is a hint; the inbox screen shows errors.
    }
  }

  private async switchLanguage(value: string): Promise<void> {
    if (!isLang(value)) return;
    setLang(value);
    try {
      this.info = await api.setLanguage(value);
    } catch (e) {
      this.showError(e);
    }
    if (this.status) this.setStatus(this.status);
  }

  async navigate(route: Route): Promise<void> {
    const seq = ++this.mountSeq;
    this.screen?.unmount?.();
    this.screen = null;
    this.route = route;
    for (const [name, el] of this.navItems) {
      const active = name === route.name || (route.name === "grid" && name === "journals");
      el.classList.toggle("active", active);
    }
    clear(this.screenEl);
    this.screenEl.scrollTop = 0;
    // The grid scrolls inside itself; other screens scroll the screen area.
    this.screenEl.classList.toggle("screen-grid", route.name === "grid");
    const mount = screens[route.name];
    if (!mount) return;
    try {
      const screen = await mount(this.screenEl, route);
      if (seq === this.mountSeq) this.screen = screen ?? null;
    } catch (e) {
      this.showError(e);
    }
  }

  private setStatus(s: SyncStatus): void {
    const previous = this.status;
    this.status = s;
    const $ = this.status$;
    if (!$) return;
    let stateKey: Key;
    let dotClass: string;
    if (!s.signedIn) {
      stateKey = "status.local";
      dotClass = "dot-local";
    } else if (s.running) {
      stateKey = "status.syncing";
      dotClass = "dot-running";
    } else if (s.lastErrorKind === "offline" || s.lastErrorKind === "no_token" || (!s.online && s.lastSuccess === null)) {
      stateKey = s.lastErrorKind === "no_token" ? "status.signInAgain" : "status.offline";
      dotClass = "dot-offline";
    } else if (s.lastError) {
      stateKey = "status.problem";
      dotClass = "dot-problem";
    } else if (s.waiting > 0) {
      stateKey = "status.waitingState";
      dotClass = "dot-waiting";
    } else {
      stateKey = "status.synced";
      dotClass = "dot-online";
    }
    $.dot.className = `dot ${dotClass}`;
    setText($.state, stateKey);
    $.state.setAttribute("data-status", dotClass.replace("dot-", ""));
    setText($.waiting, "status.waiting", { n: s.waiting });
    $.waiting.setAttribute("data-count", String(s.waiting));
    // Without a server nothing is ever sent, so a "waiting" count would only alarm.
    $.waiting.hidden = !s.signedIn;
    $.waiting.classList.toggle("sb-strong", s.waiting > 0);
    if (s.lastSuccess) setText($.last, "status.last", { when: fmt.dateTime(s.lastSuccess) });
    else if (s.signedIn) setText($.last, "status.never");
    else setText($.last, "status.notSignedIn");
    if (s.running && s.progress) setText($.progress, "status.progress", { sent: s.progress.pushed, received: s.progress.pulled });
    else if (s.running) setText($.progress, "status.starting");
    else if (s.material) {
      const pct = Math.floor((s.material.done * 100) / Math.max(1, s.material.size));
      setText($.progress, s.material.upload ? "status.materialUp" : "status.materialDown", { name: s.material.name, pct });
    } else blank($.progress);
    if (s.lastError && !s.running) {
      const kindKey = `syncError.${s.lastErrorKind ?? "other"}`;
      if (isKey(kindKey)) setText($.error, kindKey);
      else setText($.error, "syncError.other");
      $.error.title = s.lastError;
    } else {
      blank($.error);
      $.error.removeAttribute("title");
    }
    $.syncNow.disabled = !s.signedIn || s.running;
    this.unsent?.update(s);
    if (s.signedIn) setTitle($.syncNow, "status.syncNowHint");

    const finished = previous && previous.running && !s.running && !s.lastError;
    const newSuccess = previous && s.lastSuccess !== null && s.lastSuccess !== previous.lastSuccess;
    if (finished || newSuccess) {
      void this.refreshConflictCount();
      this.screen?.onSynced?.();
    }
  }

  private async syncNow(): Promise<void> {
    try {
      this.setStatus(await api.syncNow());
    } catch (e) {
      this.showError(e);
    }
  }

  /** Signing out with changes not yet sent: say how many, offer to send them first; they are
   * never lost (they stay in the replica and go up at the next sign-in here). */
  private async signOut(): Promise<void> {
    try {
      const status = await api.getSyncStatus();
      if (status.waiting > 0) {
        this.unsentDialog(status.waiting);
        return;
      }
      await this.finishSignOut(false, "signin.signedOut");
    } catch (e) {
      this.showError(e);
    }
  }

  private async finishSignOut(keepUnsent: boolean, message: Key): Promise<void> {
    try {
      this.info = await api.signOut(keepUnsent);
    } catch (e) {
      if (e instanceof IpcFailure && e.error.kind === "conflict") {
        const status = await api.getSyncStatus();
        if (status.waiting > 0) {
          this.unsentDialog(status.waiting);
          return;
        }
      }
      throw e;
    }
    this.unsent?.close();
    this.renderUser();
    this.toast(message);
    await this.navigate({ name: "signin" });
  }

  private unsent: { update: (s: SyncStatus) => void; close: () => void } | null = null;

  private unsentDialog(waiting: number): void {
    this.unsent?.close();
    const text = tx("p", "signout.text", { n: waiting }, { "data-testid": "signout-count", "data-count": waiting });
    const problem = h("p", { class: "form-error", hidden: true, "data-testid": "signout-problem" });
    let sending = false;
    const send = button(
      "signout.syncFirst",
      async () => {
        sending = true;
        send.disabled = true;
        setText(send, "signout.sending");
        problem.hidden = true;
        try {
          // The loop's status events tell how it went (see `update`).
          await api.syncNow();
        } catch (e) {
          sending = false;
          send.disabled = false;
          setText(send, "signout.syncFirst");
          this.showError(e);
        }
      },
      { class: "btn btn-primary", "data-testid": "signout-sync" },
    );
    const keep = button("signout.keep", () => void this.finishSignOut(true, "signin.signedOut").catch((e) => this.showError(e)), {
      class: "btn",
      "data-testid": "signout-keep",
    });
    const close = () => {
      back.remove();
      this.unsent = null;
    };
    const back = h(
      "div",
      { class: "modal-back" },
      h(
        "div",
        { class: "card modal", role: "alertdialog", "aria-modal": "true", "data-testid": "signout-dialog" },
        tx("h2", "signout.title"),
        text,
        problem,
        h("div", { class: "actions" }, button("common.cancel", close, { class: "btn", "data-testid": "signout-cancel" }), keep, send),
      ),
    );
    this.unsent = {
      close,
      update: (s: SyncStatus) => {
        setText(text, "signout.text", { n: s.waiting });
        text.setAttribute("data-count", String(s.waiting));
        if (!sending || s.running) return;
        if (s.waiting === 0 && !s.lastError) {
          sending = false;
          void this.finishSignOut(false, "signout.sent").catch((e) => this.showError(e));
        } else if (s.lastError) {
          sending = false;
          send.disabled = false;
          setText(send, "signout.syncFirst");
          const kindKey = `syncError.${s.lastErrorKind ?? "other"}`;
          setText(problem, isKey(kindKey) ? kindKey : "syncError.other");
          problem.hidden = false;
        }
      },
    };
    this.root.append(back);
    send.focus();
  }

  toast(key: Key, args?: Record<string, string | number>, kind: "ok" | "error" = "ok", detail?: string): void {
    const el = h("div", { class: `toast toast-${kind}`, role: "status" }, tx("div", key, args, { class: "toast-text" }));
    if (detail) el.append(raw("div", detail, { class: "toast-detail" }));
    this.toasts.append(el);
    setTimeout(() => el.classList.add("toast-hide"), kind === "error" ? 6500 : 3000);
    setTimeout(() => el.remove(), kind === "error" ? 7000 : 3500);
  }

  /** Shows a failed command: a translated headline by kind (and field), the detail below. */
  showError(e: unknown): void {
    const err: IpcError = e instanceof IpcFailure ? e.error : { kind: "internal", message: String(e) };
    console.warn("command failed", err);
    this.toast(errorKey(err), undefined, "error", err.message);
  }
}

export const isKey = hasKey;

/** The catalogue key that explains an error in the user's language. */
export function errorKey(err: IpcError): Key {
  if (err.kind === "invalidInput") {
    const specific = `error.field.${err.field}`;
    if (isKey(specific)) return specific;
  }
  const k = `error.${err.kind}`;
  return isKey(k) ? k : "error.internal";
}

export const app = new App();
