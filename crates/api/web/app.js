// Cruddur's page script. The page reads without it; with it: a character counter that counts
// exactly like the server (Unicode scalar values), times that tick, and posting and replying
// through the JSON API without a reload. No inline code anywhere (the page's CSP forbids it).
"use strict";
(() => {
  const MINUTE = 60, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

  // The server counts Unicode scalar values (Rust's chars()); a string's iterator yields code
  // points, which are the same thing for text a person can type. `.length` would count UTF-16
  // units (an emoji twice), and graphemes would count "é" written as e + U+0301 once.
  function count(text) {
    let n = 0;
    for (const _ of text) n++;
    return n;
  }

  // The same two functions as crates/api/src/web/clock.rs.
  function age(created, now) {
    const s = Math.max(0, Math.trunc((now - created) / 1000));
    if (s < MINUTE) return `${s}s`;
    if (s < HOUR) return `${Math.trunc(s / MINUTE)}m`;
    if (s < DAY) return `${Math.trunc(s / HOUR)}h`;
    return `${Math.trunc(s / DAY)}d`;
  }

  function left(expires, now) {
    const s = Math.trunc((expires - now) / 1000);
    if (s <= 0) return "expired";
    if (s < MINUTE) return `${s}s`;
    if (s < HOUR) return `${Math.trunc(s / MINUTE)}m`;
    if (s < DAY) return `${Math.trunc(s / HOUR)}h ${Math.trunc((s % HOUR) / MINUTE)}m`;
    return `${Math.trunc(s / DAY)}d ${Math.trunc((s % DAY) / HOUR)}h`;
  }

  // For the browser tests, which check these against the server's table.
  window.cruddur = { count, age, left };

  const table = JSON.parse(document.getElementById("sentences")?.textContent || "{}");

  function sentence(code, max) {
    const entry = table[code];
    if (!entry) return { field: "form", text: `Something went wrong (${code}).` };
    return { field: entry.field, text: entry.text.replace("{max}", String(max)) };
  }

  // The server writes six fraction digits; Date.parse is only specified for three.
  function instant(time) {
    return Date.parse(time.dateTime.replace(/(\.\d{3})\d+/, "$1"));
  }

  function tick() {
    const now = Date.now();
    for (const t of document.querySelectorAll("time[data-age]")) {
      const at = instant(t);
      if (!Number.isNaN(at)) t.textContent = age(at, now);
    }
    for (const t of document.querySelectorAll("time[data-left]")) {
      const at = instant(t);
      if (Number.isNaN(at)) continue;
      const text = left(at, now);
      t.textContent = text;
      t.closest(".expires")?.classList.toggle("expired", text === "expired");
    }
  }

  function control(form, field) {
    if (field === "message") return form.querySelector("textarea[name=message]");
    if (field === "ttl") return form.querySelector("select[name=ttl]");
    if (field === "author") return document.getElementById("author");
    return null;
  }

  function showError(form, field, text) {
    const slot = form.querySelector(`[data-error="${field}"]`) || form.querySelector('[data-error="form"]');
    slot.textContent = slot.hidden || !slot.textContent ? text : `${slot.textContent} ${text}`;
    slot.hidden = false;
    const invalid = control(form, field);
    invalid?.setAttribute("aria-invalid", "true");
    // The picker sits at the top of the page: describe it by this form's error while it shows.
    if (field === "author" && invalid) invalid.setAttribute("aria-describedby", `author-note ${slot.id}`);
  }

  function clearError(form, field) {
    const slot = form.querySelector(`[data-error="${field}"]`);
    if (slot) { slot.textContent = ""; slot.hidden = true; }
    const valid = control(form, field);
    valid?.removeAttribute("aria-invalid");
    if (field === "author") valid?.setAttribute("aria-describedby", "author-note");
  }

  function clearErrors(form) {
    for (const field of ["message", "ttl", "author", "form"]) clearError(form, field);
  }

  function updateCount(textarea) {
    const form = textarea.form;
    const max = Number(form.dataset.max);
    const n = count(textarea.value);
    const counter = form.querySelector("[data-count]");
    counter.textContent = `${n} / ${max}`;
    counter.classList.toggle("over", n > max);
    clearError(form, "message");
    if (n > max) showError(form, "message", sentence("message_exceed_max_chars", max).text);
  }

  function enableForms() {
    for (const button of document.querySelectorAll("form.post button[type=submit]")) button.disabled = false;
  }

  // Reads `path` again, after our own post, and swaps in its list of cruds: one renderer (the
  // server's), no reload.
  // Whether it worked: the post it follows has succeeded either way.
  // 128 random bits as hex: crypto.getRandomValues works on plain http too, where
  // crypto.randomUUID does not exist.
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function refresh(path, proof) {
    try {
      // Right after our own post, with the proof its answer gave: the server reads where the
      // post already is.
      const headers = { Accept: "text/html" };
      if (proof) headers["X-After-Write"] = proof;
      const response = await fetch(path, { headers });
      if (!response.ok) return false;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("cruds");
      const current = document.getElementById("cruds");
      if (!fresh || !current) return false;
      current.replaceWith(document.adoptNode(fresh));
      enableForms();
      tick();
      return true;
    } catch {
      return false;
    }
  }

  function announce(text) {
    const region = document.getElementById("announce");
    if (!region) return;
    // Emptied first, so the same words twice are announced twice.
    region.textContent = "";
    setTimeout(() => { region.textContent = text; }, 50);
  }

  async function post(form) {
    clearErrors(form);
    const textarea = control(form, "message");
    const max = Number(form.dataset.max);
    if (count(textarea.value) > max) {
      showError(form, "message", sentence("message_exceed_max_chars", max).text);
      textarea.focus();
      return;
    }
    const author = document.getElementById("author");
    const body = { message: textarea.value, user_handle: author ? author.value : "" };
    let url = "/api/activities";
    if (form.dataset.kind === "crud") body.ttl = control(form, "ttl").value;
    else url = `/api/activities/${encodeURIComponent(form.dataset.replyTo)}/reply`;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    // One key per intended post: sending the same post again (after a lost answer or a 503)
    // reuses it, so the server writes it once; a changed post gets a new one.
    const sent = JSON.stringify(body);
    if (!form.pending || form.pending.body !== sent) form.pending = { body: sent, key: newKey() };
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": form.pending.key },
        body: sent,
      });
      if (response.ok) {
        form.pending = null;
        textarea.value = "";
        updateCount(textarea);
        const kind = form.dataset.kind;
        // A new crud is at the top of the first page, wherever it was posted from.
        let path = location.pathname + location.search;
        if (kind === "crud" && location.search) {
          path = location.pathname;
          history.replaceState(null, "", path);
        }
        const shown = await refresh(path, response.headers.get("X-After-Write"));
        const posted = kind === "crud" ? "Your crud is posted." : "Your reply is posted.";
        announce(shown ? posted : `${posted} Reload the page to see it.`);
        if (kind === "crud") {
          textarea.focus();
        } else {
          // The list was swapped: go back to the reply box of the crud replied to.
          document.getElementById(form.id)?.closest("details")?.querySelector("summary")?.focus();
        }
        return;
      }
      let codes = [];
      try { codes = await response.json(); } catch { codes = []; }
      if (!Array.isArray(codes) || codes.length === 0) codes = [`http_${response.status}`];
      for (const code of codes) {
        const { field, text } = sentence(String(code), max);
        showError(form, field, text);
      }
      const invalid = ["message", "ttl", "author"]
        .map((field) => control(form, field))
        .find((c) => c?.getAttribute("aria-invalid") === "true");
      (invalid || textarea).focus();
    } catch {
      showError(form, "form", "The server cannot be reached. Check the connection and try again.");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form.post");
    if (!form) return;
    event.preventDefault();
    post(form);
  });
  document.addEventListener("input", (event) => {
    if (event.target.matches("form.post textarea[name=message]")) updateCount(event.target);
  });
  document.addEventListener("change", (event) => {
    if (event.target.id === "author") {
      event.target.removeAttribute("aria-invalid");
      for (const form of document.querySelectorAll("form.post")) clearError(form, "author");
    }
  });

  enableForms();
  tick();
  setInterval(tick, 1000);
})();
