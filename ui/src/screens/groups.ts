// Groups and their rosters (names and student numbers only; no personal data is replicated).

import { api, onHemisProgress, type GroupDetail, type HemisImportResult } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, clear, button, setPlaceholder } from "../dom";
import type { Key } from "../i18n";

registerScreen("groups", async (el, route) => {
  if (route.name !== "groups") return;
  el.append(h("header", { class: "screen-head" }, h("div", {}, tx("h1", "groups.title"), tx("p", "groups.subtitle", undefined, { class: "muted" }))));
  if (app.info.canImport) el.append(importCard());
  const groups = await api.listGroups();
  const layout = h("div", { class: "split" });
  const listCard = h("div", { class: "card list-card" });
  const detail = h("div", { class: "card detail-card", "data-testid": "group-detail" });
  layout.append(listCard, detail);
  el.append(layout);
  if (groups.length === 0) {
    listCard.append(tx("p", "groups.none", undefined, { class: "empty-note" }));
    detail.hidden = true;
    return;
  }
  const list = h("div", { class: "list" });
  listCard.append(list);
  let selected = route.group ?? groups[0].id;
  const renderList = () => {
    clear(list);
    for (const g of groups) {
      const item = h(
        "button",
        { type: "button", class: `list-item${g.id === selected ? " active" : ""}` },
        raw("div", g.name, { class: "strong" }),
        h("div", { class: "muted small" }, tx("span", "groups.meta", { students: g.active, journals: g.journals })),
      );
      item.addEventListener("click", async () => {
        selected = g.id;
        renderList();
        try {
          renderDetail(detail, await api.getGroup(g.id));
        } catch (e) {
          app.showError(e);
        }
      });
      list.append(item);
    }
  };
  renderList();
  renderDetail(detail, await api.getGroup(selected));
});

function renderDetail(el: HTMLElement, g: GroupDetail): void {
  clear(el);
  el.append(
    h(
      "div",
      { class: "detail-head" },
      raw("h2", g.name),
      h("div", { class: "muted" }, g.faculty ? raw("span", g.faculty) : null, g.year ? raw("span", ` · ${g.year}`) : null),
    ),
  );
  const table = h("table", { class: "table compact", "data-testid": "roster" });
  table.append(h("thead", {}, h("tr", {}, tx("th", "grid.no"), tx("th", "groups.name"), tx("th", "groups.number"), tx("th", "groups.subgroup"), tx("th", "groups.status"))));
  const tb = h("tbody");
  g.students.forEach((s, i) => {
    const statusKey = `studentStatus.${s.status}`;
    tb.append(
      h(
        "tr",
        { class: s.status === "active" ? "" : "inactive" },
        raw("td", String(i + 1), { class: "num muted" }),
        raw("td", s.name, { class: "strong" }),
        raw("td", s.number ?? "—", { class: "mono" }),
        raw("td", s.subgroup ?? "—"),
        tx("td", (statusKey in STATUS ? statusKey : "studentStatus.other") as Key),
      ),
    );
  });
  table.append(tb);
  const journals = h("div", { class: "chips" });
  for (const j of g.journals) {
    const chip = h("button", { type: "button", class: "chip chip-link" }, raw("span", j.subject));
    chip.addEventListener("click", () => void app.navigate({ name: "grid", journal: j.id }));
    journals.append(chip);
  }
  el.append(
    h("section", {}, tx("h3", "groups.roster", { n: g.students.length }), table),
    h("section", {}, tx("h3", "groups.journals"), journals),
  );
}

const STATUS: Record<string, true> = {
  "studentStatus.active": true,
  "studentStatus.left": true,
  "studentStatus.academic_leave": true,
};

/** The last import's result, shown when the screen comes back after it. */
let lastImport: { result: HemisImportResult; folder: string; url: string } | null = null;

/** An administrator imports from HEMIS: straight from its API with a token, or a folder of
 * its pages (as `daftar import hemis --save-to` keeps them). */
function importCard(): HTMLElement {
  const url = h("input", { class: "input grow", "data-testid": "hemis-url" });
  setPlaceholder(url, "hemis.urlPlaceholder");
  const token = h("input", { class: "input", type: "password", autocomplete: "off", "data-testid": "hemis-token" });
  setPlaceholder(token, "hemis.token");
  const folder = h("input", { class: "input grow", "data-testid": "hemis-folder" });
  setPlaceholder(folder, "hemis.folderPlaceholder");
  const progress = h("div", { class: "muted small", "data-testid": "hemis-progress" });
  const result = h("div", { class: "hemis-result", "data-testid": "hemis-result" });
  const run = button("hemis.import", () => void go(), { class: "btn btn-primary", "data-testid": "hemis-import" });
  const go = async () => {
    clear(result);
    clear(progress);
    run.disabled = true;
    const stop = await onHemisProgress((p) => {
      clear(progress);
      progress.append(tx("span", "hemis.page", { endpoint: p.endpoint, page: p.page, pages: p.pages }));
    });
    try {
      const r = await api.importHemis({ path: folder.value.trim() || null, url: url.value.trim() || null, token: token.value || null, saveTo: null });
      token.value = "";
      app.toast("hemis.done");
      // The screen again, with the imported groups, and what the import did.
      lastImport = { result: r, folder: folder.value, url: url.value };
      await app.navigate({ name: "groups" });
      return;
    } catch (e) {
      app.showError(e);
    } finally {
      stop();
      run.disabled = false;
    }
  };
  if (lastImport) {
    folder.value = lastImport.folder;
    url.value = lastImport.url;
    renderResult(result, lastImport.result);
    lastImport = null;
  }
  return h(
    "div",
    { class: "card", "data-testid": "hemis-card" },
    tx("h3", "hemis.title"),
    tx("p", "hemis.hint", undefined, { class: "muted small" }),
    h("div", { class: "form-row" }, url, token),
    h("div", { class: "form-row" }, folder, run),
    progress,
    result,
  );
}

function renderResult(el: HTMLElement, result: HemisImportResult): void {
  const r = result.summary;
  el.append(
    tx("p", "hemis.summary", { groups: r.groups, students: r.students, journals: r.journals, lessons: r.lessons, scores: r.scores, changes: r.changesWritten }, { class: "strong", "data-testid": "hemis-summary" }),
  );
  if (r.changes.length > 0) {
    el.append(tx("h4", "hemis.changed"), h("ul", { class: "risk-list", "data-testid": "hemis-changes" }, ...r.changes.map((c) => raw("li", c))));
  }
  if (r.notes.length > 0) {
    el.append(tx("h4", "hemis.notes"), h("ul", { class: "risk-list muted small" }, ...r.notes.map((n) => raw("li", n))));
  }
}
