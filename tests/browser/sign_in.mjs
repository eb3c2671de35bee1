// Sign-in on the page (issue 27) in headless Chromium, against `cruddur up` in cognito mode at
// BASE whose managed login is the Cognito-shaped provider at OP (cognito_op.mjs, another site):
// sign in, post, reply and sign out with the keyboard only; the cookies' attributes; the access
// token refreshed server-side; an ended session, a cross-site form, and a cross-site write
// refused; axe-core on the signed-in page. The tampering cases (state, nonce, PKCE verifier,
// replayed code, no transaction) run over HTTP with their own cookie jars, each against a fresh
// sign-in at the provider, and must each be refused with a page that says so.
// PG* (the server's database) lets the check end a session the way time would.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { USER } from "./cognito_op.mjs";

const BASE = process.env.BASE;
const OP = process.env.OP;
const ACCESS_TTL = Number(process.env.ACCESS_TTL || 0);
const STEP_MS = 10000;
const failures = [];
const cspViolations = [];
const offMachine = [];

function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}
async function waited(promise) {
  try { await promise; return true; } catch { return false; }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const counts = async () => (await fetch(`${OP}/__test/counts`)).json();

// --- HTTP side: a cookie jar per host, redirects by hand -------------------------------------
class Jar {
  constructor() { this.byHost = new Map(); }
  take(url, response) {
    const host = new URL(url).host;
    const jar = this.byHost.get(host) || new Map();
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (gone) jar.delete(name); else jar.set(name, value);
    }
    this.byHost.set(host, jar);
  }
  header(url) {
    const jar = this.byHost.get(new URL(url).host);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join("; ") : "";
  }
  get(url, name) { return this.byHost.get(new URL(url).host)?.get(name); }
  set(url, name, value) {
    const host = new URL(url).host;
    const jar = this.byHost.get(host) || new Map();
    jar.set(name, value);
    this.byHost.set(host, jar);
  }
}

async function send(jar, url, init = {}) {
  const headers = { ...(init.headers || {}), Cookie: jar.header(url) };
  const response = await fetch(url, { ...init, headers, redirect: "manual" });
  jar.take(url, response);
  return response;
}

// Begins a sign-in at BASE (`path`) and signs in at the provider, stopping before the callback:
// the jar holds the transaction cookie; the callback URL (code and state) is returned unused,
// with the sign-in's first answer.
async function signInUpTo(jar, path = "/auth/sign-in") {
  const start = await send(jar, `${BASE}${path}`);
  return { start, callback: await followToCallback(jar, start.headers.get("location")) };
}

async function followToCallback(jar, authorizeUrl) {
  let response;
  let url = authorizeUrl;
  for (let hops = 0; hops < 10; hops++) {
    if (url.startsWith(`${BASE}/auth/callback`)) return url;
    response = await send(jar, url);
    if (new URL(url).pathname.startsWith("/interaction/") && response.status === 200) {
      response = await send(jar, url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ username: USER.username, password: USER.password }).toString(),
      });
    }
    const next = response.headers.get("location");
    if (!next) throw new Error(`no redirect from ${url}: ${response.status}`);
    url = new URL(next, url).toString();
  }
  throw new Error("the sign-in did not come back to the callback");
}

async function callback(jar, url) {
  const response = await send(jar, url);
  return { status: response.status, body: await response.text(), location: response.headers.get("location") };
}

function heading(html) {
  return (html.match(/<h1>([^<]*)<\/h1>/) || [])[1] || "";
}

async function tampering() {
  // Every case ends with the transaction cookie cleared and no session cookie.
  // Each failure names its own cause: the sentence tells which check refused.
  const refusedAs = (what, result, jar, status, title, sentence) => {
    check(result.status === status && heading(result.body) === title && result.body.includes(sentence)
          && /role="alert"/.test(result.body) && result.body.includes('href="/auth/sign-in"'),
      `${what}: refused with "${title}: …${sentence}…" (${result.status}, "${heading(result.body)}") and a way to sign in again`);
    check(!jar.get(BASE, "__Host-cruddur_session") && !jar.get(BASE, "__Host-cruddur_signin"),
      `${what}: no session opened, the transaction cleared`);
  };

  // A control: the same route with nothing tampered signs in.
  let jar = new Jar();
  let url = (await signInUpTo(jar)).callback;
  const sealed = jar.get(BASE, "__Host-cruddur_signin");
  let result = await callback(jar, url);
  check(result.status === 303 && result.location === "/" && /^[A-Za-z0-9_-]{43}$/.test(jar.get(BASE, "__Host-cruddur_session") || ""),
    `untampered: the callback opens a session and goes home (${result.status} ${result.location})`);

  // A replayed code: the same callback again, with the transaction cookie put back.
  const replay = new Jar();
  replay.set(BASE, "__Host-cruddur_signin", sealed);
  result = await callback(replay, url);
  refusedAs("a replayed code", result, replay, 400, "Sign-in refused", "one-time code was refused");

  // A tampered state.
  jar = new Jar();
  url = (await signInUpTo(jar)).callback;
  const tampered = new URL(url);
  tampered.searchParams.set("state", `${tampered.searchParams.get("state")}x`);
  refusedAs("a tampered state", await callback(jar, tampered.toString()), jar, 400, "Sign-in refused", "does not belong");

  // A code sent without the transaction cookie (another browser's code, or a link).
  jar = new Jar();
  url = (await signInUpTo(jar)).callback;
  const bare = new Jar();
  refusedAs("a callback with no sign-in begun", await callback(bare, url), bare, 400, "Sign-in expired", "not begun in this browser");

  // A forged transaction cookie (its signature broken).
  jar = new Jar();
  url = (await signInUpTo(jar)).callback;
  const value = jar.get(BASE, "__Host-cruddur_signin");
  jar.set(BASE, "__Host-cruddur_signin", `${value.slice(0, -2)}${value.endsWith("AA") ? "BB" : "AA"}`);
  refusedAs("a forged transaction cookie", await callback(jar, url), jar, 400, "Sign-in expired", "not begun in this browser");

  // A wrong PKCE verifier: the first sign-in's code with the second's state and verifier (a code
  // injected into another sign-in), refused by the provider's PKCE check.
  jar = new Jar();
  const first = new URL((await signInUpTo(jar)).callback);
  const second = new URL((await signInUpTo(jar)).callback);
  second.searchParams.set("code", first.searchParams.get("code"));
  refusedAs("another sign-in's code (wrong PKCE verifier)", await callback(jar, second.toString()), jar, 400, "Sign-in refused", "one-time code was refused");

  // A wrong nonce: the provider signs an ID token for another sign-in.
  await fetch(`${OP}/__test/misbehave?nonce=1`);
  try {
    jar = new Jar();
    url = (await signInUpTo(jar)).callback;
    refusedAs("an ID token with another nonce", await callback(jar, url), jar, 400, "Sign-in refused", "did not pass the server");
  } finally {
    await fetch(`${OP}/__test/misbehave?nonce=0`);
  }

  // The managed login's refusal (error=access_denied) with the right state.
  jar = new Jar();
  url = (await signInUpTo(jar)).callback;
  const denied = new URL(url);
  denied.searchParams.delete("code");
  denied.searchParams.set("error", "access_denied");
  refusedAs("the provider's error answer", await callback(jar, denied.toString()), jar, 400, "Sign-in cancelled", "did not sign you in");

  // A sign-in may not send the browser off the site afterwards.
  jar = new Jar();
  const offSite = await signInUpTo(jar, `/auth/sign-in?return_to=${encodeURIComponent("//evil.example/")}`);
  const start = offSite.start;
  check(start.status === 303 && start.headers.get("location").startsWith(`${OP}/oauth2/authorize?`),
    "sign-in redirects to the managed login's authorize endpoint");
  const authorize = new URL(start.headers.get("location"));
  const params = Object.fromEntries(authorize.searchParams);
  check(params.response_type === "code" && params.code_challenge_method === "S256"
        && /^[A-Za-z0-9_-]{43}$/.test(params.code_challenge) && params.state?.length >= 22
        && params.nonce?.length >= 43 && params.scope.split(" ").includes("openid")
        && params.redirect_uri === `${BASE}/auth/callback`,
    `the authorize request: code, PKCE S256, state, nonce, openid, the callback (${JSON.stringify(Object.keys(params))})`);
  const signinCookie = start.headers.getSetCookie().find((c) => c.startsWith("__Host-cruddur_signin="));
  check(/; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600$/.test(signinCookie || ""),
    `the transaction cookie is __Host-, Secure, HttpOnly, Lax, ten minutes (${signinCookie?.replace(/=[^;]*/, "=…")})`);
  url = offSite.callback;
  result = await callback(jar, url);
  check(result.status === 303 && result.location === "/", `an off-site return_to comes back home instead (${result.location})`);
}

// --- Browser side ------------------------------------------------------------------------
const profile = mkdtempSync(join(tmpdir(), "cruddur-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
  viewport: { width: 900, height: 1000 },
});
context.setDefaultTimeout(STEP_MS);
// Nothing may leave the machine: every request is to a loopback address, or it is stopped.
await context.route("**/*", (route) => {
  const host = new URL(route.request().url()).hostname;
  if (/^127\./.test(host) || host === "localhost") return route.continue();
  offMachine.push(route.request().url());
  return route.abort();
});

const AXE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
// Every violation fails, whatever its impact.
async function axeCheck(page, what) {
  await page.evaluate(AXE); // evaluated by the driver, not injected: the page's CSP stays on
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] }))
    .violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })));
  check(violations.length === 0, `axe: no violations on ${what} ${JSON.stringify(violations)}`);
}

async function open(path) {
  const page = await context.newPage();
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  await page.goto(BASE + path);
  await page.waitForFunction(() => window.cruddur !== undefined);
  return page;
}
const focused = (page) => page.evaluate(() => {
  const a = document.activeElement;
  return a ? (a.id || `${a.tagName}:${(a.textContent || "").trim()}`) : "";
});
async function tabTo(page, wanted, max = 40) {
  for (let i = 0; i < max; i++) {
    if (await wanted()) return true;
    await page.keyboard.press("Tab");
  }
  return wanted();
}
// Signs in from the page with the keyboard only: Tab to "Sign in", Enter, the provider's form
// (username, Tab, password, Enter), back on the page. `first` names the checks of the first time.
async function signInByKeyboard(page, first) {
  check(await tabTo(page, async () => (await focused(page)) === "A:Sign in"),
    first ? "Tab reaches \"Sign in\"" : "Tab reaches \"Sign in\" again");
  await page.keyboard.press("Enter");
  // The managed login remembers nobody after its logout: the form every time here.
  await page.waitForURL((u) => u.toString().startsWith(`${OP}/interaction/`));
  if (first) check(await focused(page) === "username", "the managed login's form has the focus");
  await page.keyboard.type(USER.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(USER.password);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${BASE}/`);
  await page.waitForFunction(() => window.cruddur !== undefined);
}

function sessionCookie() {
  return context.cookies(BASE).then((all) => all.find((c) => c.name === "__Host-cruddur_session"));
}

try {
  await tampering();

  // 1. Signed out: the page offers sign-in, no posting.
  let page = await open("/");
  check(await page.locator("#compose").count() === 0, "signed out: no compose form");
  // 2. Sign in with the keyboard only.
  await signInByKeyboard(page, true);
  check((await page.locator(".account").textContent()).includes("Signed in as"), "back on the page, signed in");
  const cookie = await sessionCookie();
  check(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === "Lax" && cookie.path === "/"
        && !cookie.domain.startsWith("."),
    `the session cookie is HttpOnly, Secure, SameSite=Lax, Path=/, host-only ${JSON.stringify({ ...cookie, value: "…" })}`);
  check(await page.evaluate(() => document.cookie) === "", "no script on the page can read it");
  check(!(await context.cookies(BASE)).some((c) => c.name === "__Host-cruddur_signin"), "the transaction cookie is gone");
  const signedInAt = Date.now();

  // 3. Post with the keyboard only.
  const crud = `signed in and posted ${Date.now()}`;
  check(await tabTo(page, async () => (await focused(page)) === "compose-message"), "Tab reaches the message box");
  await page.keyboard.type(crud);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.type) === "submit", "then the button");
  if (ACCESS_TTL > 0) {
    // Past halfway through the access token's life: the post must renew it first.
    await sleep(Math.max(0, (ACCESS_TTL / 2) * 1000 + 1000 - (Date.now() - signedInAt)));
  }
  const before = await counts();
  await page.keyboard.press("Enter");
  check(await waited(page.waitForFunction((t) => document.querySelector("ol.feed > li .crud > .message")?.textContent === t, crud)),
    "the crud is posted as the signed-in user and shows first");
  check((await page.locator("ol.feed > li").first().locator(".handle").first().textContent()) === `@${USER.username}`,
    "with the signed-in user's handle");
  if (ACCESS_TTL > 0) {
    const after = await counts();
    check(after.refresh === before.refresh + 1,
      `the expiring access token was renewed server-side with the refresh token (refresh grants ${before.refresh} → ${after.refresh})`);
  }

  // 4. Reply with the keyboard only, to the crud just posted.
  const item = page.locator("ol.feed > li").first();
  const onSummary = async () => page.evaluate(() => document.activeElement?.tagName === "SUMMARY"
      && document.activeElement.closest("ol.feed > li") === document.querySelector("ol.feed > li"));
  check(await tabTo(page, onSummary), "Tab reaches the first crud's reply box");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.tagName) === "TEXTAREA", "Enter opens it, Tab enters it");
  const reply = `a reply while signed in ${Date.now()}`;
  await page.keyboard.type(reply);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  check(await waited(page.waitForFunction((r) => [...document.querySelectorAll("ol.feed > li:first-child ol.replies .message")]
    .some((m) => m.textContent === r), reply)), "the reply appears under the crud");
  check(await item.locator("ol.replies .handle", { hasText: `@${USER.username}` }).count() >= 1, "as the signed-in user");

  // 5. axe-core on the signed-in page.
  await axeCheck(page, "the signed-in page");

  // 6. Cross-site: writes with the session cookie but not from the page are refused; the same
  //    request from the page's origin passes (the control).
  const value = (await sessionCookie()).value;
  const write = (headers) => fetch(`${BASE}/api/activities`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Cookie: `__Host-cruddur_session=${value}`, ...headers },
    body: JSON.stringify({ message: `cross-site test ${Date.now()}`, ttl: "1-hour" }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
  for (const [what, headers] of [
    ["Sec-Fetch-Site: cross-site", { "Sec-Fetch-Site": "cross-site", Origin: OP }],
    ["Sec-Fetch-Site: same-site", { "Sec-Fetch-Site": "same-site" }],
    ["another Origin", { Origin: OP }],
    ["neither header", {}],
  ]) {
    const r = await write(headers);
    check(r.status === 403 && JSON.stringify(r.body) === '["cross_site_request"]',
      `a cookie-authenticated write with ${what} is refused (${r.status} ${JSON.stringify(r.body)})`);
  }
  const same = await write({ "Sec-Fetch-Site": "same-origin", Origin: BASE });
  check(same.status === 200, `the same write from the page's origin is taken (${same.status})`);
  // A form on another site posting to sign-out: refused, and the session lives on.
  const evil = await context.newPage();
  const answer = evil.waitForResponse((r) => r.url() === `${BASE}/auth/sign-out`);
  await evil.goto(`${OP}/__test/cross-site?target=${encodeURIComponent(`${BASE}/auth/sign-out`)}`);
  check((await answer).status() === 403, `another site's form cannot sign the user out (${(await answer).status()})`);
  await evil.close();
  await page.reload();
  check((await page.locator(".account").textContent()).includes("Signed in as"), "still signed in after it");

  // 7. Sign out with the keyboard only: the session ends here and at the provider, and its
  //    refresh token is revoked.
  const beforeOut = await counts();
  check(await tabTo(page, async () => (await focused(page)) === "BUTTON:Sign out"), "Tab reaches \"Sign out\"");
  await page.keyboard.press("Enter");
  await page.waitForURL(`${BASE}/`);
  await page.waitForFunction(() => window.cruddur !== undefined);
  const afterOut = await counts();
  check((await page.locator(".account a").textContent()) === "Sign in", "signed out: back home with \"Sign in\"");
  check(!(await sessionCookie()), "the session cookie is deleted");
  check(afterOut.revoke === beforeOut.revoke + 1 && afterOut.logout === beforeOut.logout + 1,
    `the refresh token was revoked and the managed login signed out (revocations ${beforeOut.revoke} → ${afterOut.revoke}, logouts ${beforeOut.logout} → ${afterOut.logout})`);
  const stale = await write({ "Sec-Fetch-Site": "same-origin" });
  check(stale.status === 401 && JSON.stringify(stale.body) === '["session_ended"]',
    `the signed-out session's cookie writes nothing (${stale.status} ${JSON.stringify(stale.body)})`);

  await axeCheck(page, "the signed-out page");
  const failedPage = await open("/auth/callback?code=x&state=y");
  check(await failedPage.locator("h1").textContent() === "Sign-in expired", "a callback without a sign-in shows its page");
  await axeCheck(failedPage, "a sign-in failure page");
  await failedPage.close();

  // 8. A session that ends by itself (idle or absolute expiry, made to pass now in the database):
  //    the page says so, clears the cookie, and a post from it is refused with that sentence.
  await signInByKeyboard(page, false);
  check(await page.locator("#compose").count() === 1, "signed in again");
  check((await sessionCookie())?.value !== value, "with a new session id");
  execFileSync("psql", ["-v", "ON_ERROR_STOP=1", "-qAt", "-c",
    "UPDATE web_sessions SET idle_until = now() - interval '1 second'"], { stdio: ["ignore", "pipe", "inherit"] });
  const ended = `after the session ended ${Date.now()}`;
  await page.fill("#compose-message", ended);
  await page.click("#compose button[type=submit]");
  const slot = page.locator('#compose [data-error="form"]');
  check(await waited(slot.waitFor({ state: "visible" })) && (await slot.textContent()) === "Your session has ended. Sign in again to post.",
    `a post from an ended session is refused with a sentence that says so ("${await slot.textContent().catch(() => "")}")`);
  await page.reload();
  check((await page.locator(".account").textContent()).startsWith("Your session has ended."), "the page says the session has ended");
  check(!(await sessionCookie()), "and clears its cookie");

  check(cspViolations.length === 0, `no Content-Security-Policy violations ${JSON.stringify(cspViolations)}`);
  check(offMachine.length === 0, `no request left the machine ${JSON.stringify(offMachine)}`);
} catch (error) {
  check(false, `the run stopped: ${error.stack || error}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures.length === 0 ? "sign-in: all checks passed" : `sign-in: ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
