/* Elster pages in German (the default, as for Gera) and English.

   Texts live in /static/i18n/<lang>.json, one flat dictionary per language. Static texts are
   marked in the HTML: data-i18n="key" sets an element's text, data-i18n-attr="attr:key;..."
   sets attributes (aria-label, title, placeholder). Scripts call I18N.t(key, params) for the
   texts they build and re-render in I18N.onChange. The choice is kept in localStorage. */
"use strict";

const I18N = (() => {
  const LANGS = ["de", "en"];
  const DEFAULT = "de";
  const STORAGE_KEY = "elster.lang";
  const LOCALES = { de: "de-DE", en: "en-GB" };
  let lang = DEFAULT;
  let dict = {};
  const listeners = [];

  function stored() {
    try { return localStorage.getItem(STORAGE_KEY); } catch (e) { return null; }  // storage off
  }

  /* The text of `key`, `{name}` placeholders filled from params; `count` picks key_one/key_other. */
  function t(key, params = {}) {
    let text = dict[key];
    if ("count" in params) {
      const plural = dict[`${key}_${params.count === 1 ? "one" : "other"}`];
      if (plural !== undefined) text = plural;
    }
    if (text === undefined) return key;  // a missing key shows itself, so it is noticed
    return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }

  function apply(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of el.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) el.setAttribute(attr, t(key));
      }
    }
    const title = document.querySelector("title[data-i18n]");
    if (title) document.title = t(title.dataset.i18n);
  }

  async function setLang(next) {
    const chosen = LANGS.includes(next) ? next : DEFAULT;
    const response = await fetch(`/static/i18n/${chosen}.json`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`i18n/${chosen}.json: HTTP ${response.status}`);
    dict = await response.json();
    lang = chosen;
    document.documentElement.lang = chosen;
    try { localStorage.setItem(STORAGE_KEY, chosen); } catch (e) { /* not remembered */ }
    const select = document.getElementById("lang");
    if (select) select.value = chosen;
    apply();
    for (const listener of listeners) listener(chosen);
  }

  /* Load the remembered language (German by default) and wire the language select. */
  async function init() {
    const select = document.getElementById("lang");
    if (select) select.addEventListener("change", () => setLang(select.value));
    await setLang(stored() || DEFAULT);
  }

  return {
    init,
    setLang,
    t,
    apply,
    onChange: (listener) => listeners.push(listener),
    get lang() { return lang; },
    get locale() { return LOCALES[lang]; },
  };
})();
window.I18N = I18N;
