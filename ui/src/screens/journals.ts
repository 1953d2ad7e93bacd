// "My journals": group, subject, semester, completion, unsynced changes and conflicts. On an
// empty replica it offers demo data or sign-in.

import { api, type JournalSummary, type Overruled } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, button, clear, icon, ICONS, setPlaceholder } from "../dom";
import type { Key } from "../i18n";
import * as fmt from "../format";
import { markView } from "../marks";

registerScreen("journals", async (el) => {
  const header = h(
    "header",
    { class: "screen-head" },
    h("div", {}, tx("h1", "journals.title"), tx("p", "journals.subtitle", undefined, { class: "muted" })),
  );
  const body = h("div", { class: "journals" });
  el.append(header, body);

  if (app.info.empty) {
    if (app.info.signedIn) {
      // Signed in on an empty replica: the first sync is bringing the journals.
      body.append(tx("p", "journals.noneYet", undefined, { class: "card empty-note", "data-testid": "waiting-first-sync" }));
    } else {
      renderEmpty(body);
    }
    return {
      onSynced: () => {
        void app.refreshInfo().then((info) => {
          if (!info.empty) void app.navigate({ name: "journals" });
        });
      },
    };
  }

  const search = h("input", { type: "search", class: "input search", "data-testid": "journal-search" });
  setPlaceholder(search, "journals.search");
  header.append(search);

  let journals: JournalSummary[] = [];
  const changes = h("section", { class: "overruled-section" });
  const list = h("div", { class: "card table-card" });
  body.append(changes, list);

  const render = () => {
    const q = normalize(search.value);
    const shown = journals.filter((j) => !q || normalize(`${j.group} ${j.subject}`).includes(q));
    clear(list);
    if (journals.length === 0) {
      list.append(tx("p", app.info.signedIn ? "journals.noneYet" : "journals.none", undefined, { class: "empty-note" }));
      return;
    }
    const table = h("table", { class: "table journals-table", "data-testid": "journals-table" });
    const head = h("tr", {});
    for (const key of ["journals.col.group", "journals.col.subject", "journals.col.semester", "journals.col.students", "journals.col.completion", "journals.col.state"] as const) {
      head.append(tx("th", key));
    }
    table.append(h("thead", {}, head));
    const tbody = h("tbody", {});
    for (const j of shown) {
      const pct = j.lessons > 0 ? Math.round((100 * j.completeLessons) / j.lessons) : 0;
      const bar = h("div", { class: "progress" }, h("div", { class: "progress-fill", style: `width:${pct}%` }));
      const badges = h("div", { class: "badges" });
      const state = h("td", {}, badges);
      // Without a server nothing is sent, so "not sent" would only alarm.
      if (j.unsynced > 0 && app.info.signedIn) badges.append(tx("span", "journals.unsynced", { n: j.unsynced }, { class: "badge badge-info", "data-testid": "badge-unsynced" }));
      if (j.conflicts > 0) badges.append(tx("span", "journals.conflicts", { n: j.conflicts }, { class: "badge badge-warn" }));
      if (j.locked) {
        const b = tx("span", "journals.locked", undefined, { class: "badge badge-muted" });
        b.prepend(icon(ICONS.lock));
        badges.append(b);
      }
      if (!app.info.signedIn && badges.childElementCount === 0) badges.append(tx("span", "status.local", undefined, { class: "badge badge-muted" }));
      if (j.unsynced === 0 && j.conflicts === 0 && !j.locked && app.info.signedIn) badges.append(tx("span", "journals.synced", undefined, { class: "badge badge-ok" }));
      const row = h(
        "tr",
        { class: "clickable", tabindex: 0, "data-journal": j.id, "data-testid": "journal-row" },
        h("td", {}, raw("span", j.group, { class: "strong" })),
        h("td", {}, raw("span", j.subject)),
        h("td", {}, raw("span", j.semester)),
        h("td", { class: "num" }, raw("span", String(j.students))),
        h("td", {}, h("div", { class: "completion" }, bar, raw("span", `${j.completeLessons}/${j.lessons}`, { class: "muted small" }))),
        state,
      );
      const open = () => void app.navigate({ name: "grid", journal: j.id });
      row.addEventListener("click", open);
      row.addEventListener("keydown", (e) => {
        if (e.key === "Enter") open();
      });
      tbody.append(row);
    }
    table.append(tbody);
    list.append(table);
  };

  const load = async () => {
    const [js, overruled] = await Promise.all([api.listJournals(), api.listOverruled(null)]);
    journals = js;
    render();
    renderOverruled(changes, overruled);
  };
  search.addEventListener("input", render);
  await load();
  return {
    onSynced: () => void load().catch((e) => app.showError(e)),
  };
});

/** "Changes to your marks": what the dean's office decided against values you wrote. */
function renderOverruled(el: HTMLElement, entries: Overruled[]): void {
  clear(el);
  if (entries.length === 0) return;
  const cols: Key[] = [
    "overruled.col.journal",
    "overruled.col.student",
    "overruled.col.date",
    "overruled.col.mine",
    "overruled.col.decided",
    "overruled.col.by",
    "overruled.col.when",
    "overruled.col.note",
  ];
  const table = h("table", { class: "table compact", "data-testid": "overruled-table" });
  table.append(h("thead", {}, h("tr", {}, ...cols.map((c) => tx("th", c)))));
  const tbody = h("tbody");
  for (const o of entries) {
    const row = h(
      "tr",
      { class: "clickable", tabindex: 0, "data-testid": "overruled-row", "data-journal": o.journal, "data-lesson": o.lesson ?? "", "data-student": o.student ?? "" },
      raw("td", [o.group, o.subject].filter(Boolean).join(" — ")),
      raw("td", o.studentName ?? o.student ?? "", { class: "strong" }),
      raw("td", fmt.date(o.lessonDate)),
      h("td", { class: "struck" }, markView(o.field, o.mine, o.mineDisplay)),
      h("td", { class: "strong" }, markView(o.field, o.decided, o.decidedDisplay, { "data-testid": "overruled-decided" })),
      raw("td", o.byUser),
      raw("td", fmt.dateTime(o.resolvedAt)),
      raw("td", o.note ?? ""),
    );
    const open = () => void app.navigate({ name: "grid", journal: o.journal });
    row.addEventListener("click", open);
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter") open();
    });
    tbody.append(row);
  }
  table.append(tbody);
  const head = h(
    "div",
    { class: "section-head" },
    h("div", {}, h("h3", {}, icon(ICONS.warn, "icon warn"), tx("span", "overruled.title")), tx("p", "overruled.subtitle", undefined, { class: "muted small" })),
  );
  el.append(h("div", { class: "card table-card overruled-card", "data-testid": "overruled-panel" }, head, table));
}

function renderEmpty(body: HTMLElement): void {
  const card = h(
    "div",
    { class: "card empty-card", "data-testid": "empty-state" },
    raw("div", "D", { class: "empty-logo" }),
    tx("h2", "journals.empty.title"),
    tx("p", "journals.empty.text", undefined, { class: "muted" }),
  );
  const actions = h("div", { class: "actions" });
  const demo = button(
    "journals.empty.demo",
    async () => {
      demo.disabled = true;
      demo.classList.add("busy");
      try {
        await api.loadDemo();
        await app.refreshInfo();
        app.toast("journals.empty.demoLoaded");
        await app.navigate({ name: "journals" });
      } catch (e) {
        app.showError(e);
        demo.disabled = false;
        demo.classList.remove("busy");
      }
    },
    { class: "btn btn-primary", "data-testid": "load-demo" },
  );
  const signIn = button("journals.empty.signIn", () => void app.navigate({ name: "signin" }), { class: "btn" });
  if (app.info.keptForOthers > 0) {
    // A shared computer: other users' journals are kept here, not shown; no demo over them.
    card.append(tx("p", "journals.empty.keptForOthers", { n: app.info.keptForOthers }, { class: "note", "data-testid": "kept-for-others" }));
    signIn.classList.add("btn-primary");
    actions.append(signIn);
  } else {
    actions.append(demo, signIn);
  }
  card.append(actions);
  body.append(card);
}

/** Case- and apostrophe-insensitive search text (Oʻ, O‘, O' all match). */
export function normalize(s: string): string {
  return s.toLowerCase().replace(/[\u02BB\u02BC\u2018\u2019`\u00B4]/g, "'");
}
