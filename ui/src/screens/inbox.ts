// The conflict inbox: every value of a conflicted cell side by side (who, device, edit time,
// lesson date); pick one or enter a value, add a note, resolve. Below, the decisions made so far.

import { api, type Conflict, type OpeningRequestView, type Resolution } from "../ipc";
import { app, registerScreen } from "../app";
import { h, tx, raw, button, clear, setPlaceholder, icon, ICONS } from "../dom";
import type { Key } from "../i18n";
import * as fmt from "../format";

registerScreen("inbox", async (el) => {
  el.append(h("header", { class: "screen-head" }, h("div", {}, tx("h1", "inbox.title"), tx("p", "inbox.subtitle", undefined, { class: "muted" }))));
  const listEl = h("div", { class: "conflicts", "data-testid": "conflicts" });
  const history = h("section", { class: "history" });
  const openings = h("section", { class: "openings", "data-testid": "openings" });
  el.append(listEl, openings, history);

  const load = async () => {
    const [conflicts, resolutions, requests] = await Promise.all([
      api.listConflicts(null),
      api.listResolutions(null),
      app.info.canResolve ? api.listOpeningRequests(null) : Promise.resolve([] as OpeningRequestView[]),
    ]);
    renderList(conflicts);
    renderOpenings(requests);
    renderHistory(resolutions);
  };

  // Teachers' requests to open lessons whose entry window closed: open one until a day.
  const renderOpenings = (requests: OpeningRequestView[]) => {
    clear(openings);
    if (requests.length === 0) return;
    openings.append(tx("h2", "opening.requests"));
    for (const o of requests) {
      const until = h("input", { class: "input", "data-testid": "opening-until", value: fmt.date(fmt.today()) });
      const grant = button("opening.grant", async () => {
        try {
          renderOpenings(await api.openLesson({ journal: o.journal, lesson: o.lesson, until: until.value, reason: o.reason }));
          app.toast("opening.granted");
        } catch (err) {
          app.showError(err);
        }
      }, { class: "btn btn-primary", "data-testid": "opening-grant" });
      openings.append(
        h(
          "div",
          { class: "card opening-item", "data-testid": "opening-request", "data-lesson": o.lesson, "data-journal": o.journal },
          raw("span", [o.group, o.subject].filter(Boolean).join(" — "), { class: "strong" }),
          o.date ? raw("span", fmt.date(o.date)) : null,
          raw("span", o.by ?? "?"),
          raw("span", o.reason, { class: "muted" }),
          o.openedUntil
            ? tx("span", "opening.openUntil", { date: fmt.date(o.openedUntil) }, { class: "chip", "data-testid": "opening-granted" })
            : h("span", { class: "form-row" }, tx("span", "opening.until", undefined, { class: "field-label" }), until, grant),
        ),
      );
    }
  };

  const renderList = (conflicts: Conflict[]) => {
    clear(listEl);
    if (!app.info.canResolve) {
      listEl.append(tx("p", "inbox.notAllowed", undefined, { class: "card empty-note" }));
      return;
    }
    if (conflicts.length === 0) {
      const ok = h("div", { class: "card empty-card small-empty", "data-testid": "inbox-empty" }, icon(ICONS.check, "icon big-ok"), tx("h2", "inbox.empty"), tx("p", "inbox.emptyText", undefined, { class: "muted" }));
      listEl.append(ok);
      return;
    }
    listEl.append(tx("p", "inbox.count", { n: conflicts.length }, { class: "muted" }));
    for (const c of conflicts) listEl.append(card(c));
  };

  const card = (c: Conflict): HTMLElement => {
    let picked: number | null = null;
    const own = h("input", { class: "input", "data-testid": "conflict-value" });
    setPlaceholder(own, c.field === "mark" ? "inbox.ownMark" : "inbox.ownValue");
    const note = h("textarea", { class: "input", rows: 2, "data-testid": "conflict-note" });
    setPlaceholder(note, "inbox.note");
    const options = h("div", { class: "values" });
    const optionEls: HTMLElement[] = [];
    c.values.forEach((v, i) => {
      const opt = h(
        "button",
        { type: "button", class: "value-option", "data-testid": "conflict-option", "data-index": i + 1 },
        valueView(c.field, v.value, v.display),
        h(
          "div",
          { class: "value-who", "data-verified": String(v.verified) },
          raw("span", v.user ?? "?", { class: "strong" }),
          v.verified ? null : tx("span", "inbox.unverified", undefined, { class: "muted small" }),
        ),
        h("div", { class: "muted small" }, tx("span", "inbox.device", { device: v.device })),
        h("div", { class: "muted small" }, tx("span", "inbox.edited", { when: fmt.dateTime(v.editedAt) })),
        v.receivedAt !== null ? h("div", { class: "muted small" }, tx("span", "inbox.received", { when: fmt.dateTime(v.receivedAt) })) : null,
        v.locked ? tx("div", "inbox.frozen", undefined, { class: "chip" }) : null,
      );
      opt.addEventListener("click", () => {
        picked = i + 1;
        own.value = "";
        optionEls.forEach((o, j) => o.classList.toggle("selected", j === i));
      });
      optionEls.push(opt);
      options.append(opt);
    });
    own.addEventListener("input", () => {
      if (own.value.trim()) {
        picked = null;
        optionEls.forEach((o) => o.classList.remove("selected"));
      }
    });
    const resolve = button(
      "inbox.resolve",
      async () => {
        if (picked === null && !own.value.trim()) {
          app.toast("inbox.pickFirst", undefined, "error");
          return;
        }
        resolve.disabled = true;
        try {
          const remaining = await api.resolveConflict({ id: c.id, pick: picked, value: picked === null ? own.value : null, note: note.value || null });
          app.toast("inbox.resolved");
          renderList(remaining);
          renderHistory(await api.listResolutions(null));
          void app.refreshConflictCount();
        } catch (e) {
          resolve.disabled = false;
          app.showError(e);
        }
      },
      { class: "btn btn-primary", "data-testid": "conflict-resolve" },
    );
    const where = h(
      "div",
      { class: "conflict-where" },
      raw("span", c.studentName ?? c.student ?? c.key, { class: "strong" }),
      raw("span", [c.group, c.subject].filter(Boolean).join(" — "), { class: "muted" }),
    );
    const meta = h(
      "div",
      { class: "conflict-meta" },
      tx("span", `conflictKind.${c.kind}` as Key, undefined, { class: `badge ${c.kind === "amendment" ? "badge-muted" : "badge-warn"}` }),
      tx("span", `conflictField.${c.field}` as Key, undefined, { class: "badge badge-info" }),
      c.lessonDate ? tx("span", "inbox.lessonDate", { date: fmt.date(c.lessonDate) }, { class: "muted" }) : null,
    );
    const open = button("inbox.openJournal", () => void app.navigate({ name: "grid", journal: c.journal }), { class: "btn btn-link" });
    return h(
      "article",
      { class: "card conflict-card", "data-conflict": c.id, "data-testid": "conflict-card" },
      h("div", { class: "conflict-head" }, icon(ICONS.warn, "icon warn"), where, h("span", { class: "grow" }), meta),
      tx("div", "inbox.values", undefined, { class: "field-label" }),
      options,
      h("div", { class: "form-row" }, h("label", { class: "field grow" }, tx("span", "inbox.orValue", undefined, { class: "field-label" }), own)),
      h("label", { class: "field" }, tx("span", "inbox.noteLabel", undefined, { class: "field-label" }), note),
      h("div", { class: "actions" }, open, resolve),
    );
  };

  const renderHistory = (resolutions: Resolution[]) => {
    clear(history);
    if (resolutions.length === 0) return;
    const table = h("table", { class: "table compact" });
    table.append(h("thead", {}, h("tr", {}, tx("th", "inbox.h.when"), tx("th", "inbox.h.where"), tx("th", "inbox.h.student"), tx("th", "inbox.h.value"), tx("th", "inbox.h.by"), tx("th", "inbox.h.note"))));
    const tb = h("tbody");
    for (const r of resolutions) {
      tb.append(
        h(
          "tr",
          {},
          raw("td", fmt.dateTime(r.resolvedAt)),
          raw("td", [r.group, r.subject].filter(Boolean).join(" — ")),
          raw("td", `${r.studentName ?? ""}${r.lessonDate ? ` (${fmt.date(r.lessonDate)})` : ""}`),
          raw("td", r.display, { class: "strong" }),
          raw("td", r.byUser),
          raw("td", r.note ?? ""),
        ),
      );
    }
    table.append(tb);
    history.append(tx("h2", "inbox.history"), h("div", { class: "card table-card" }, table));
  };

  await load();
  return { onSynced: () => void load().catch((e) => app.showError(e)) };
});

/** A mark as the grid shows it (NB, a grade…) in the current language; other fields as given. */
function valueView(field: string, value: string, display: string): HTMLElement {
  if (field === "mark") {
    try {
      const m = JSON.parse(value) as { s?: string; g?: number };
      if (m.s && ["p", "a", "e", "l"].includes(m.s)) {
        const el = h("div", { class: `value-big m-${m.s}` });
        if (m.g !== undefined && m.s === "p") el.append(raw("span", String(m.g)));
        else {
          el.append(tx("span", `mark.${m.s}` as Key));
          if (m.g !== undefined) el.append(raw("span", String(m.g)));
        }
        return el;
      }
    } catch {
      // Not a mark value: show it as the core describes it.
    }
  }
  return raw("div", display, { class: "value-big" });
}
