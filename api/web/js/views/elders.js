// The elders the user looks after, searchable by name or address.

import { api } from "../api.js";
import { clear, h } from "../dom.js";
import { label, t } from "../i18n.js";

export async function eldersView(main) {
  const search = h("input", { type: "search", placeholder: t("elders.search"), class: "search" });
  const list = h("ul", { class: "elder-list" });
  main.append(h("div", { class: "view-head" }, h("h1", {}, t("elders.title"))), search, list);
  const elders = await api("/elders");

  function render() {
    const query = search.value.trim().toLowerCase();
    const shown = elders.filter(
      (e) =>
        !query ||
        e.name.toLowerCase().includes(query) ||
        e.home.address.toLowerCase().includes(query),
    );
    clear(list);
    if (!shown.length) list.append(h("li", { class: "empty" }, t("elders.empty")));
    for (const elder of shown) {
      list.append(
        h(
          "li",
          { dataset: { elderId: elder.id } },
          h(
            "a",
            { href: `#/elders/${elder.id}` },
            h("strong", {}, elder.name),
            h(
              "span",
              { class: `chip presence-${elder.presence}` },
              label("elder.presence", elder.presence),
            ),
            h("div", { class: "address muted" }, elder.home.address),
          ),
        ),
      );
    }
  }
  search.addEventListener("input", render);
  render();
}
