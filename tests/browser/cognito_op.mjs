// A Cognito-shaped OpenID provider for the sign-in check (sign_in.mjs): oidc-provider (certified)
// on a loopback address other than the server's (another site, as Cognito's managed login is),
// issuing tokens shaped like a Cognito user pool's: the pool's issuer string, RS256 with a kid,
// access tokens with token_use/client_id and no aud, ID tokens with aud = the client and the
// nonce; Cognito's endpoint paths (/oauth2/authorize, /oauth2/token, /oauth2/revoke, /logout
// with client_id and logout_uri); refresh tokens without rotation; PKCE required (S256).
// Its sign-in page is a plain form (no fonts or scripts from off the machine).
//
// Run: OP_HOST OP_PORT REDIRECT_URI LOGOUT_URI [ACCESS_TTL] node cognito_op.mjs; prints
// "op is up: <origin>". Test hooks (loopback only): GET /__test/counts (sign-ins, code and refresh
// grants, revocations, logouts), GET /__test/misbehave?nonce=1|0 (sign ID tokens with another
// nonce), GET /__test/cross-site?target=URL (a page on this other site whose form posts to URL).
import { generateKeyPairSync, createPrivateKey, sign as rsaSign } from "node:crypto";
import { createServer } from "node:http";
import { Provider } from "oidc-provider";

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
const b64u = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

export const USER = {
  sub: "MOCK-andrewbrown", username: "andrewbrown", email: "andrew@exampro.co", password: "Passw0rd!",
};

export async function startCognitoOp({
  host = "127.0.0.2", port = 0, region = "us-east-1", poolId = "us-east-1_TestPool",
  clientId = "test-client-id", clientSecret = "test-client-secret",
  redirectUris, postLogoutRedirectUris, accessTtl = 3600,
}) {
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${poolId}`;
  const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const signingJwk = { ...jwk, kid: "test-key-1", alg: "RS256", use: "sig" };
  const signingKey = createPrivateKey({ key: signingJwk, format: "jwk" });
  // Cognito's access tokens name no resource: oidc-provider needs one for JWT access tokens,
  // and its aud is taken out again below.
  const resource = `urn:cruddur:test:${poolId}`;
  const counts = { login: 0, code: 0, refresh: 0, revoke: 0, logout: 0 };
  const misbehave = { nonce: false };
  const resignJwt = (token, edit) => {
    const [h, p] = token.split(".");
    const payload = JSON.parse(Buffer.from(p, "base64url"));
    edit(payload);
    const input = `${b64u(JSON.parse(Buffer.from(h, "base64url")))}.${b64u(payload)}`;
    return `${input}.${rsaSign("sha256", Buffer.from(input), signingKey).toString("base64url")}`;
  };

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      ...(clientSecret ? { client_secret: clientSecret } : {}),
      token_endpoint_auth_method: clientSecret ? "client_secret_basic" : "none",
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutRedirectUris,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      id_token_signed_response_alg: "RS256",
    }],
    jwks: { keys: [signingJwk] },
    findAccount: async (_ctx, sub) => (sub !== USER.sub ? undefined : {
      accountId: sub,
      async claims(use) {
        return { sub, email: USER.email, email_verified: true, "cognito:username": USER.username,
          ...(use === "id_token" ? { token_use: "id" } : {}) };
      },
    }),
    claims: { openid: ["sub", "cognito:username", "token_use"], email: ["email", "email_verified"] },
    scopes: ["openid", "email", "profile", "offline_access"],
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false }, // its pages load fonts from off the machine
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // Cognito's /logout asks nothing: submit the confirmation at once.
        logoutSource: async (ctx, form) => {
          ctx.body = page("Signing out", form.replace("</form>",
            '<input type="hidden" name="logout" value="yes"/><noscript><button>Sign out</button></noscript></form>')
            + "<script>document.forms[0].submit()</script>");
        },
        postLogoutSuccessSource: async (ctx) => { ctx.body = page("Signed out", ""); },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: "openid email profile aws.cognito.signin.user.admin", audience: resource,
          accessTokenFormat: "jwt", accessTokenTTL: accessTtl, jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: async (_ctx, token) =>
      token.kind === "AccessToken" ? { token_use: "access", username: USER.username, version: 2 } : undefined,
    formats: { customizers: { jwt: async (_ctx, _token, jwt) => { jwt.header = { typ: "JWT" }; } } },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: false,
    expiresWithSession: async () => false,
    loadExistingGrant: async (ctx) => { // a first-party client: no consent screen, as Cognito
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid email profile");
      grant.addOIDCClaims(["sub", "email", "email_verified", "cognito:username", "token_use"]);
      grant.addResourceScope(resource, "openid email profile aws.cognito.signin.user.admin");
      await grant.save();
      return grant;
    },
    routes: {
      authorization: "/oauth2/authorize", token: "/oauth2/token", revocation: "/oauth2/revoke",
      userinfo: "/oauth2/userInfo", end_session: "/logout", jwks: "/.well-known/jwks.json",
    },
    ttl: { AccessToken: accessTtl, IdToken: 3600, RefreshToken: 86400, AuthorizationCode: 60,
      Interaction: 600, Session: 3600, Grant: 86400 },
    cookies: { keys: ["test-cookie-key"] },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => { ctx.type = "html"; ctx.body = page("Error", `<pre>${esc(JSON.stringify(out))}</pre>`); },
  });
  provider.on("grant.success", (ctx) => {
    if (ctx.oidc.params.grant_type === "refresh_token") counts.refresh += 1; else counts.code += 1;
  });
  provider.on("grant.revoked", () => { counts.revoke += 1; });
  provider.on("end_session.success", () => { counts.logout += 1; });

  provider.use(async (ctx, next) => {
    if (ctx.path === "/logout" && ctx.query.logout_uri) { // Cognito's name for the target
      const q = new URLSearchParams(ctx.querystring);
      q.set("post_logout_redirect_uri", q.get("logout_uri")); q.delete("logout_uri");
      ctx.querystring = q.toString();
    }
    const grantType = ctx.path === "/oauth2/token" ? ctx.request.body?.grant_type : undefined;
    await next();
    if (ctx.path === "/oauth2/token" && ctx.status === 200 && ctx.body?.access_token) {
      const body = { ...ctx.body, access_token: resignJwt(ctx.body.access_token, (p) => { delete p.aud; }) };
      if (misbehave.nonce && body.id_token) body.id_token = resignJwt(body.id_token, (p) => { p.nonce = "not-this-sign-ins"; });
      if (ctx.oidc?.params?.grant_type === "refresh_token" || grantType === "refresh_token") delete body.refresh_token;
      ctx.body = body;
    }
  });

  async function interaction(req, res) {
    const { uid, prompt } = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      if (prompt.name !== "login") throw new Error(`unexpected prompt ${prompt.name}`);
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.setHeader("Cache-Control", "no-store");
      res.end(page("Sign in", `<form method="post" action="/interaction/${esc(uid)}">
<label for="username">Username</label> <input id="username" name="username" autocomplete="username" autofocus required>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>`));
      return;
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    if (form.get("username") !== USER.username || form.get("password") !== USER.password) {
      res.statusCode = 401;
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(page("Sign in", `<p role="alert">Incorrect username or password.</p><p><a href="/interaction/${esc(uid)}">Try again</a></p>`));
      return;
    }
    counts.login += 1;
    await provider.interactionFinished(req, res, { login: { accountId: USER.sub } }, { mergeWithLastSubmission: false });
  }

  function testHook(req, res) {
    const url = new URL(req.url, "http://op");
    res.setHeader("Cache-Control", "no-store");
    if (url.pathname === "/__test/counts") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify(counts));
    } else if (url.pathname === "/__test/misbehave") {
      misbehave.nonce = url.searchParams.get("nonce") === "1";
      res.end("ok");
    } else if (url.pathname === "/__test/cross-site") {
      // Another site's page whose form posts to the target as soon as it loads.
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(page("Another site", `<form method="post" action="${esc(url.searchParams.get("target"))}">
<input type="hidden" name="message" value="cross-site"></form><script>document.forms[0].submit()</script>`));
    } else {
      res.statusCode = 404;
      res.end();
    }
  }

  const callback = provider.callback();
  const server = createServer((req, res) => {
    if (req.url.startsWith("/interaction/")) {
      interaction(req, res).catch((e) => { res.statusCode = 400; res.end(String(e.message)); });
    } else if (req.url.startsWith("/__test/")) {
      testHook(req, res);
    } else callback(req, res);
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const origin = `http://${host}:${server.address().port}`;
  return { origin, counts, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const op = await startCognitoOp({
    host: process.env.OP_HOST || "127.0.0.2",
    port: Number(process.env.OP_PORT || 0),
    redirectUris: [process.env.REDIRECT_URI],
    postLogoutRedirectUris: [process.env.LOGOUT_URI],
    accessTtl: Number(process.env.ACCESS_TTL || 3600),
  });
  console.log(`op is up: ${op.origin}`);
  process.on("SIGTERM", async () => { await op.close(); process.exit(0); });
}
