// A real OpenID provider for the console's single sign-on tests: the OpenID-certified
// oidc-provider package, on loopback, with the test's people and their claims.
//   node provider.mjs PORT REDIRECT_URI   (people as JSON in EHX_TEST_PEOPLE)
// Its development sign-in form takes any password for a known name; consent is given
// for the console (a first-party application) without a second page.
import Provider from "oidc-provider";

const [port, redirect] = process.argv.slice(2);
const people = JSON.parse(process.env.EHX_TEST_PEOPLE || "{}");
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "ehx-console",
      client_secret: process.env.EHX_TEST_CLIENT_SECRET,
      redirect_uris: [redirect],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  pkce: { required: () => true },
  scopes: ["openid", "ehx"],
  claims: { openid: ["sub"], ehx: ["preferred_username", "groups", "organisation"] },
  cookies: { keys: ["test-only-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    if (!people[id]) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...people[id] };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid ehx");
    await grant.save();
    return grant;
  },
});

provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
