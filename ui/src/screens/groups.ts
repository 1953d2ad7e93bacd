// Groups and their rosters (names and student numbers only; no personal data is replicated).

import { api, type GroupDetail } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, clear } from "../dom";
import type { Key } from "../i18n";

registerScreen("groups", async (el, route) => {
  if (route.name !== "groups") return;
  el.append(h("header", { class: "screen-head" }, h("div", {}, tx("h1", "groups.title"), tx("p", "groups.subtitle", undefined, { class: "muted" }))));
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
