// A Cognito-shaped OpenID provider for tests: oidc-provider (panva) on a loopback address,
// issuing tokens shaped like a Cognito user pool's. Prototype for issue 27's planning.
import { generateKeyPairSync, createPrivateKey, sign as rsaSign } from "node:crypto";
import { createServer } from "node:http";
import { Provider } from "oidc-provider";

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
const b64u = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

export async function startCognitoOp({
  host = "127.0.0.2", port = 0,
  region = "us-east-1", poolId = "us-east-1_TestPool",
  clientId = "test-client-id", clientSecret = "test-client-secret",
  redirectUris, postLogoutRedirectUris,
  user = { sub: "MOCK-andrewbrown", username: "andrewbrown", email: "andrewbrown@exampro.co", password: "Passw0rd!" },
  ttl = { access: 60, id: 60, refresh: 3600 },
  stripAud = true,
}) {
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${poolId}`;
  const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const signingJwk = { ...jwk, kid: "test-key-1", alg: "RS256", use: "sig" };
  const signingKey = createPrivateKey({ key: signingJwk, format: "jwk" });
  const resource = `urn:cruddur:test:${poolId}`; // Cognito's access tokens have no resource/aud
  const findAccount = async (_ctx, sub) => (sub !== user.sub ? undefined : {
    accountId: sub,
    async claims(use) {
      // use: "id_token" or "userinfo"
      return {
        sub, email: user.email, email_verified: true, "cognito:username": user.username,
        ...(use === "id_token" ? { token_use: "id" } : {}),
      };
    },
  });

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
    findAccount,
    claims: { openid: ["sub", "cognito:username", "token_use"], email: ["email", "email_verified"] },
    scopes: ["openid", "email", "profile", "offline_access"],
    conformIdTokenClaims: false, // Cognito puts email in the ID token, not only in userinfo
    pkce: { required: () => true }, // S256 is the only method v9 supports
    features: {
      devInteractions: { enabled: false }, // its pages @import Google Fonts: never on a closed network
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // Cognito's /logout asks nothing: submit the confirmation form at once (logout=yes).
        logoutSource: async (ctx, form) => {
          ctx.body = page("Signing out", form.replace("</form>",
            '<input type="hidden" name="logout" value="yes"/><noscript><button>Sign out</button></noscript></form>')
            + "<script>document.forms[0].submit()</script>");
        },
        postLogoutSuccessSource: async (ctx) => { ctx.body = page("Signed out", ""); },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource, // the client sends no resource parameter, as with Cognito
        useGrantedResource: async () => true,  // refresh and code exchange reuse it
        getResourceServerInfo: async () => ({
          scope: "openid email profile aws.cognito.signin.user.admin",
          audience: resource,
          accessTokenFormat: "jwt",
          accessTokenTTL: ttl.access,
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: async (_ctx, token) =>
      token.kind === "AccessToken" ? { token_use: "access", username: user.username, version: 2 } : undefined,
    formats: {
      customizers: {
        jwt: async (_ctx, _token, jwt) => { jwt.header = { typ: "JWT" }; }, // Cognito's header: kid, alg
      },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"), // without offline_access
    rotateRefreshToken: false, // Cognito returns no new refresh token on refresh
    expiresWithSession: async () => false, // Cognito's /logout does not end refresh tokens
    loadExistingGrant: async (ctx) => { // first-party client: no consent screen, like Cognito
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid email profile");
      grant.addOIDCClaims(["sub", "email", "email_verified", "cognito:username", "token_use"]);
      grant.addResourceScope(resource, "openid email profile aws.cognito.signin.user.admin");
      await grant.save();
      return grant;
    },
    routes: { // Cognito's paths (managed login domain)
      authorization: "/oauth2/authorize", token: "/oauth2/token", revocation: "/oauth2/revoke",
      userinfo: "/oauth2/userInfo", end_session: "/logout", jwks: "/.well-known/jwks.json",
    },
    ttl: {
      AccessToken: ttl.access, IdToken: ttl.id, RefreshToken: ttl.refresh,
      AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600,
    },
    cookies: { keys: ["test-cookie-key"] },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => { ctx.type = "html"; ctx.body = page("Error", `<pre>${esc(JSON.stringify(out))}</pre>`); },
  });

  const counts = { token: 0, revoke: 0, logout: 0, login: 0 };
  provider.on("grant.success", () => { counts.token += 1; });
  provider.on("grant.revoked", () => { counts.revoke += 1; });
  provider.on("end_session.success", () => { counts.logout += 1; });

  // Cognito's /logout names the target logout_uri; RP-Initiated Logout calls it post_logout_redirect_uri.
  provider.use(async (ctx, next) => {
    if (ctx.path === "/logout" && ctx.query.logout_uri) {
      const q = new URLSearchParams(ctx.querystring);
      q.set("post_logout_redirect_uri", q.get("logout_uri")); q.delete("logout_uri");
      ctx.querystring = q.toString();
    }
    await next();
    // Cognito's access tokens have no aud: re-sign without it (oidc-provider insists on one).
    if (stripAud && ctx.path === "/oauth2/token" && ctx.status === 200 && ctx.body?.access_token) {
      const [h, p] = ctx.body.access_token.split(".");
      const payload = JSON.parse(Buffer.from(p, "base64url"));
      delete payload.aud;
      const header = JSON.parse(Buffer.from(h, "base64url"));
      const input = `${b64u(header)}.${b64u(payload)}`;
      ctx.body = { ...ctx.body, access_token: `${input}.${rsaSign("sha256", Buffer.from(input), signingKey).toString("base64url")}` };
      if (ctx.oidc?.params?.grant_type === "refresh_token") delete ctx.body.refresh_token;
    }
  });

  // The sign-in page: a plain form, label-bound inputs, usable from the keyboard alone.
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
    let body = ""; for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    if (form.get("username") !== user.username || form.get("password") !== user.password) {
      res.statusCode = 401; res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(page("Sign in", `<p role="alert">Incorrect username or password.</p><p><a href="/interaction/${esc(uid)}">Try again</a></p>`));
      return;
    }
    counts.login += 1;
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }

  const callback = provider.callback();
  const server = createServer((req, res) => {
    if (req.url.startsWith("/interaction/")) {
      interaction(req, res).catch((e) => { res.statusCode = 400; res.end(String(e.message)); });
    } else callback(req, res);
  });
  await new Promise((r) => server.listen(port, host, r));
  const origin = `http://${host}:${server.address().port}`;
  return {
    provider, issuer, origin, counts, server,
    jwksUrl: `${origin}/.well-known/jwks.json`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
