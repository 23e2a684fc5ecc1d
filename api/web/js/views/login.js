// Sign in with username and password; the shell then opens the role's home page.

import { ApiError, signIn } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

export async function loginView(main) {
  const error = h("p", { class: "error", hidden: true, role: "alert" });
  const username = h("input", {
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    required: true,
  });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const submit = h("button", { type: "submit", class: "primary big" }, t("login.submit"));
  main.append(
    h(
      "section",
      { class: "login card" },
      h("img", { src: "icons/icon.svg", alt: "", width: 64, height: 64 }),
      h("h1", {}, t("login.title")),
      h("p", { class: "muted" }, t("login.subtitle")),
      h(
        "form",
        {
          onsubmit: async (event) => {
            event.preventDefault();
            submit.disabled = true;
            error.hidden = true;
            try {
              await signIn(username.value.trim(), password.value);
              window.dispatchEvent(new Event("nuanxin:signedin"));
            } catch (failure) {
              error.textContent =
                failure instanceof ApiError && failure.status === 401
                  ? t("login.failed")
                  : t("error.generic", { message: failure.message });
              error.hidden = false;
            } finally {
              submit.disabled = false;
            }
          },
        },
        h("label", { class: "field" }, h("span", {}, t("login.username")), username),
        h("label", { class: "field" }, h("span", {}, t("login.password")), password),
        error,
        submit,
      ),
    ),
  );
  username.focus();
}
