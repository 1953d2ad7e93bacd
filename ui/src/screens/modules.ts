// Course modules: topics in order, hours per lesson type, the control plan. Department heads
// (and administrators) add and rename topics.

import { api, type ModuleDetail, type Material, type ModuleSummary } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, button, clear, option, setPlaceholder, setTitle } from "../dom";
import { t } from "../i18n";
import type { Key } from "../i18n";
import { normalize } from "./journals";
import { lessonTypeEl } from "../marks";

registerScreen("modules", async (el, route) => {
  if (route.name !== "modules") return;
  el.append(h("header", { class: "screen-head" }, h("div", {}, tx("h1", "modules.title"), tx("p", "modules.subtitle", undefined, { class: "muted" }))));
  const modules = await api.listModules();
  const layout = h("div", { class: "split" });
  const listCard = h("div", { class: "card list-card" });
  const detail = h("div", { class: "card detail-card", "data-testid": "module-detail" });
  layout.append(listCard, detail);
  el.append(layout);
  if (modules.length === 0) {
    listCard.append(tx("p", "modules.none", undefined, { class: "empty-note" }));
    detail.hidden = true;
    return;
  }
  const search = h("input", { type: "search", class: "input" });
  setPlaceholder(search, "modules.search");
  const list = h("div", { class: "list" });
  listCard.append(search, list);
  let selected = route.module ?? modules[0].id;

  const renderList = () => {
    clear(list);
    const q = normalize(search.value);
    for (const m of modules) {
      if (q && !normalize(m.subject).includes(q)) continue;
      const item = h(
        "button",
        { type: "button", class: `list-item${m.id === selected ? " active" : ""}`, "data-module": m.id },
        raw("div", m.subject, { class: "strong" }),
        h("div", { class: "muted small" }, tx("span", "modules.meta", { semester: m.semester, topics: m.topics, journals: m.journals })),
      );
      item.addEventListener("click", () => {
        selected = m.id;
        renderList();
        void load(m);
      });
      list.append(item);
    }
  };
  const load = async (m: ModuleSummary) => {
    try {
      renderDetail(detail, await api.getModule(m.id));
    } catch (e) {
      app.showError(e);
    }
  };
  search.addEventListener("input", renderList);
  renderList();
  await load(modules.find((m) => m.id === selected) ?? modules[0]);
});

function renderDetail(el: HTMLElement, m: ModuleDetail): void {
  clear(el);
  el.append(
    h("div", { class: "detail-head" }, raw("h2", m.subject), h("div", { class: "muted" }, tx("span", "grid.semester", { n: m.semester }), raw("span", " · "), tx("span", `marking.${m.markingSystem}` as Key), m.department ? raw("span", ` · ${m.department}`) : null)),
  );
  const hours = h("table", { class: "table compact" });
  hours.append(h("thead", {}, h("tr", {}, tx("th", "modules.lessonType"), tx("th", "modules.hours", undefined, { class: "num" }))));
  const hb = h("tbody");
  let total = 0;
  for (const x of m.hours) {
    total += x.hours;
    hb.append(h("tr", {}, h("td", {}, lessonTypeEl(x.lessonType, m.localTypes)), raw("td", String(x.hours), { class: "num" })));
  }
  hb.append(h("tr", { class: "total-row" }, tx("td", "modules.total"), raw("td", String(total), { class: "num" })));
  hours.append(hb);

  const controls = h("table", { class: "table compact" });
  controls.append(h("thead", {}, h("tr", {}, tx("th", "modules.control"), tx("th", "modules.kind"), tx("th", "modules.max", undefined, { class: "num" }), tx("th", "modules.sittings", undefined, { class: "num" }))));
  const cb = h("tbody");
  for (const c of m.controls) {
    cb.append(h("tr", {}, raw("td", c.code, { class: "strong" }), tx("td", `control.${c.kind}` as Key), raw("td", String(c.max), { class: "num" }), raw("td", String(c.sittings), { class: "num" })));
  }
  if (m.controls.length === 0) cb.append(h("tr", {}, tx("td", "modules.noControls", undefined, { colspan: 4, class: "muted" })));
  controls.append(cb);

  el.append(
    h("div", { class: "two-col" }, h("section", {}, tx("h3", "modules.hoursTitle"), hours), h("section", {}, tx("h3", "modules.controlsTitle"), controls)),
  );

  const topics = h("ol", { class: "topics", "data-testid": "module-topics" });
  m.topics.forEach((tp, i) => {
    const name = raw("span", tp.name, { class: "topic-name" });
    const li = h(
      "li",
      { "data-topic": tp.id },
      raw("span", `${i + 1}.`, { class: "topic-no" }),
      name,
      tp.lessonType ? lessonTypeEl(tp.lessonType, m.localTypes, true, { class: "chip" }) : null,
    );
    if (m.editable) {
      const rename = h("button", { type: "button", class: "btn btn-link small", "data-testid": "topic-rename" });
      rename.append(tx("span", "modules.rename"));
      setTitle(rename, "modules.renameHint");
      rename.addEventListener("click", () => {
        const input = h("input", { class: "input input-inline", "data-testid": "topic-rename-input" });
        input.value = tp.name;
        const save = async () => {
          if (input.value.trim() === tp.name) return renderDetail(el, m);
          try {
            renderDetail(el, await api.renameTopic({ module: m.id, topic: tp.id, name: input.value }));
            app.toast("modules.renamed");
          } catch (e) {
            app.showError(e);
          }
        };
        input.addEventListener("keydown", (e) => {
          if (e.key === "Enter") void save();
          if (e.key === "Escape") renderDetail(el, m);
        });
        name.replaceWith(input);
        rename.remove();
        input.focus();
      });
      li.append(rename);
    }
    topics.append(li);
  });
  const section = h("section", {}, h("div", { class: "section-head" }, tx("h3", "modules.topicsTitle", { n: m.topics.length })), topics);
  if (m.editable) {
    const name = h("input", { class: "input", "data-testid": "topic-new" });
    setPlaceholder(name, "modules.newTopic");
    const type = h("select", { class: "input" });
    type.append(option("", "modules.anyType"));
    for (const code of ["11", "12", "13", "14", "15", "16", "17"]) type.append(option(code, `lessonType.${code}` as Key));
    const add = button("modules.addTopic", async () => {
      try {
        renderDetail(el, await api.addTopic({ module: m.id, name: name.value, lessonType: type.value || null }));
        app.toast("modules.added");
      } catch (e) {
        app.showError(e);
      }
    }, { class: "btn btn-primary", "data-testid": "topic-add" });
    name.addEventListener("keydown", (e) => {
      if (e.key === "Enter") add.click();
    });
    section.append(h("div", { class: "form-row add-topic" }, name, type, add));
  } else {
    section.append(tx("p", "modules.readOnly", undefined, { class: "muted small" }));
  }
  el.append(section);
  el.append(materialsSection(el, m));
}

/** A file's size as people read it. */
export function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} B`;
}

function materialStatus(x: Material): HTMLElement {
  const pct = Math.floor((x.received * 100) / Math.max(1, x.size));
  const el = tx("span", `materials.status.${x.status}` as Key, { pct }, { class: `chip material-${x.status}` });
  if (x.problem) el.title = x.problem;
  return el;
}

/** The module's files: open one with the system's viewer; the head attaches and removes. */
function materialsSection(root: HTMLElement, m: ModuleDetail): HTMLElement {
  const list = h("ul", { class: "materials", "data-testid": "module-materials" });
  for (const x of m.materials) {
    const open = h("button", { type: "button", class: "btn btn-link", "data-testid": "material-open", "data-hash": x.hash });
    open.append(raw("span", x.name));
    open.disabled = x.status !== "here" && x.status !== "sending";
    setTitle(open, open.disabled ? "materials.notHereHint" : "materials.openHint");
    open.addEventListener("click", async () => {
      try {
        await api.openMaterial(x.hash);
        app.toast("materials.opened");
      } catch (e) {
        app.showError(e);
      }
    });
    const li = h(
      "li",
      { "data-material": x.hash },
      open,
      raw("span", sizeText(x.size), { class: "muted small" }),
      x.topicName ? raw("span", x.topicName, { class: "chip" }) : null,
      materialStatus(x),
    );
    if (m.editable) {
      const remove = h("button", { type: "button", class: "btn btn-link small", "data-testid": "material-remove" });
      remove.append(tx("span", "materials.remove"));
      remove.addEventListener("click", async () => {
        try {
          renderDetail(root, await api.removeMaterial({ module: m.id, hash: x.hash }));
          app.toast("materials.removed");
        } catch (e) {
          app.showError(e);
        }
      });
      li.append(remove);
    }
    list.append(li);
  }
  if (m.materials.length === 0) list.append(tx("li", "materials.none", undefined, { class: "muted" }));
  const section = h("section", {}, h("div", { class: "section-head" }, tx("h3", "materials.title", { n: m.materials.length })), list);
  if (m.editable) {
    const topic = h("select", { class: "input", "data-testid": "material-topic" });
    topic.append(option("", "materials.wholeModule"));
    for (const tp of m.topics) {
      const o = h("option", { value: tp.id });
      o.textContent = tp.name;
      topic.append(o);
    }
    const attach = button("materials.attach", async () => {
      try {
        const chosen = await api.chooseMaterialFile(t("materials.chooseTitle"));
        if (!chosen.path) return;
        renderDetail(root, await api.attachMaterial({ module: m.id, path: chosen.path, topic: topic.value || null }));
        app.toast("materials.attached");
      } catch (e) {
        app.showError(e);
      }
    }, { class: "btn btn-primary", "data-testid": "material-attach" });
    section.append(h("div", { class: "form-row add-topic" }, topic, attach), tx("p", "materials.attachHint", undefined, { class: "muted small" }));
  }
  return section;
}
