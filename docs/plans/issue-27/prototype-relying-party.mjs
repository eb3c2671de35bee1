// Prototype: a fake relying party (standing in for cruddur) + cognito_op + Chromium, keyboard-only.
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import * as jose from "jose";
import { startCognitoOp } from "./prototype-cognito-op.mjs";

const rp = createServer();
await new Promise((r) => rp.listen(0, "127.0.0.1", r));
const RP = `http://127.0.0.1:${rp.address().port}`;
const op = await startCognitoOp({
  redirectUris: [`${RP}/auth/callback`], postLogoutRedirectUris: [`${RP}/`],
  ttl: { access: 5, id: 5, refresh: 600 },
});
console.log("op", op.origin, "issuer", op.issuer);
const disco = await (await fetch(`${op.origin}/.well-known/openid-configuration`)).json();
console.log("discovery", JSON.stringify({ issuer: disco.issuer, a: disco.authorization_endpoint, t: disco.token_endpoint, e: disco.end_session_endpoint, r: disco.revocation_endpoint, j: disco.jwks_uri, pk: disco.code_challenge_methods_supported }));
const JWKS = jose.createRemoteJWKSet(new URL(op.jwksUrl));
const basic = "Basic " + Buffer.from("test-client-id:test-client-secret").toString("base64");
let pending = {}; const got = {};

async function tokenCall(params) {
  const r = await fetch(`${op.origin}/oauth2/token`, { method: "POST", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params) });
  return [r.status, await r.json()];
}
rp.on("request", async (req, res) => {
  const url = new URL(req.url, RP);
  try {
    if (url.pathname === "/") {
      res.setHeader("content-type", "text/html");
      res.setHeader("Set-Cookie", "rp_probe=1; Path=/; HttpOnly; Secure; SameSite=Lax");
      res.end(`<!DOCTYPE html><html><body><a href="/auth/sign-in">Sign in</a> <a href="/auth/sign-out">Sign out</a></body></html>`);
    } else if (url.pathname === "/auth/sign-in") {
      const verifier = randomBytes(32).toString("base64url");
      pending = { verifier, state: randomBytes(16).toString("base64url"), nonce: randomBytes(16).toString("base64url") };
      const q = new URLSearchParams({ response_type: "code", client_id: "test-client-id", redirect_uri: `${RP}/auth/callback`, scope: "openid email profile", state: pending.state, nonce: pending.nonce, code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256" });
      res.writeHead(302, { location: `${op.origin}/oauth2/authorize?${q}`, "Set-Cookie": "rp_state=1; Path=/; HttpOnly; SameSite=Strict" }); res.end();
    } else if (url.pathname === "/auth/callback") {
      got.callbackCookies = req.headers.cookie;
      got.callbackQuery = Object.fromEntries(url.searchParams);
      if (url.searchParams.get("state") !== pending.state) throw new Error("state");
      const [s, t] = await tokenCall({ grant_type: "authorization_code", code: url.searchParams.get("code"), redirect_uri: `${RP}/auth/callback`, code_verifier: pending.verifier });
      got.tokenStatus = s; got.tokenKeys = Object.keys(t);
      if (s !== 200) throw new Error(JSON.stringify(t));
      got.first = t;
      got.at = (await jose.jwtVerify(t.access_token, JWKS, { issuer: op.issuer, algorithms: ["RS256"] }));
      got.id = (await jose.jwtVerify(t.id_token, JWKS, { issuer: op.issuer, audience: "test-client-id" }));
      res.setHeader("content-type", "text/html"); res.end(`<p id="who">signed in as ${got.at.payload.username}</p><a href="/auth/sign-out">Sign out</a>`);
    } else if (url.pathname === "/auth/sign-out") {
      res.writeHead(302, { location: `${op.origin}/logout?${new URLSearchParams({ client_id: "test-client-id", logout_uri: `${RP}/` })}` }); res.end();
    } else { res.statusCode = 404; res.end(); }
  } catch (e) { res.statusCode = 500; res.end(String(e.stack)); }
});

const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "oidc-proto-")), {
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const outside = [];
await context.route("**/*", (route) => {
  const u = new URL(route.request().url());
  if (u.hostname === "127.0.0.1" || u.hostname === "127.0.0.2") return route.continue();
  outside.push(u.href); return route.abort();
});
context.setDefaultTimeout(10000);
try {
  const page = await context.newPage();
  await page.goto(RP + "/");
  console.log("rp cookies after /:", JSON.stringify((await context.cookies(RP)).map((c) => [c.name, c.secure])));
  await page.keyboard.press("Tab"); await page.keyboard.press("Enter"); // "Sign in"
  await page.waitForURL(/\/interaction\//);
  console.log("login page:", page.url(), "focused:", await page.evaluate(() => document.activeElement?.id));
  // wrong password first
  await page.keyboard.type("andrewbrown"); await page.keyboard.press("Tab"); await page.keyboard.type("nope"); await page.keyboard.press("Enter");
  await page.waitForSelector("[role=alert]"); console.log("wrong password:", await page.textContent("[role=alert]"));
  await page.keyboard.press("Tab"); await page.keyboard.press("Enter");
  await page.waitForSelector("#username"); await page.focus("#username"); // autofocus after navigation
  await page.keyboard.type("andrewbrown"); await page.keyboard.press("Tab"); await page.keyboard.type("Passw0rd!"); await page.keyboard.press("Enter");
  await page.waitForSelector("#who");
  console.log("rp says:", await page.textContent("#who"));
  console.log("callback query keys:", Object.keys(got.callbackQuery), "cookies at callback:", got.callbackCookies);
  console.log("token response keys:", got.tokenKeys);
  console.log("access header:", JSON.stringify(got.at.protectedHeader), "payload:", JSON.stringify(got.at.payload));
  console.log("id header:", JSON.stringify(got.id.protectedHeader), "payload:", JSON.stringify(got.id.payload), "nonce ok:", got.id.payload.nonce === pending.nonce);
  await new Promise((r) => setTimeout(r, 6000)); // let the access token expire
  const [s2, t2] = await tokenCall({ grant_type: "refresh_token", refresh_token: got.first.refresh_token });
  console.log("refresh:", s2, Object.keys(t2), "new at differs:", t2.access_token !== got.first.access_token);
  const at2 = await jose.jwtVerify(t2.access_token, JWKS, { issuer: op.issuer });
  console.log("refreshed at aud:", at2.payload.aud, "token_use:", at2.payload.token_use, "scope:", at2.payload.scope);
  const rv = await fetch(`${op.origin}/oauth2/revoke`, { method: "POST", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: got.first.refresh_token }) });
  console.log("revoke:", rv.status);
  const [s3, t3] = await tokenCall({ grant_type: "refresh_token", refresh_token: got.first.refresh_token });
  console.log("refresh after revoke:", s3, t3.error);
  // sign out, keyboard: link is the first focusable
  await page.keyboard.press("Tab"); await page.keyboard.press("Enter");
  await page.waitForURL(RP + "/");
  console.log("after sign-out at:", page.url());
  // signing in again must ask for the password again (session ended)
  await page.goto(RP + "/auth/sign-in"); await page.waitForURL(/\/interaction\//); console.log("after logout, sign-in asks again:", page.url().includes("/interaction/"));
  const [s4, t4] = await tokenCall({ grant_type: "refresh_token", refresh_token: t2.refresh_token ?? got.first.refresh_token });
  console.log("(first RT revoked above; this only shows the call shape)", s4, t4.error);
  console.log("counts", JSON.stringify(op.counts), "outside requests:", outside);
} finally {
  await context.close(); await op.close(); rp.closeAllConnections(); rp.close();
}
