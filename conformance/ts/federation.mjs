// Workload identity federation through the official SDK: a CI job holding
// only its platform's identity token exchanges it with
// oAuth.createOauthToken (RFC 8693), checks the access token's signature
// against oAuth.listOauthJwks, calls chat.send with it through keygate's
// gateway, and is charged against its federation policy.
//
// Environment:
//   KEYGATE_API_URL        API base, e.g. http://127.0.0.1:8080/api/v1
//   KEYGATE_POLICY_ID      a federation policy trusting the subject tokens
//   KEYGATE_SUBJECT_TOKEN  a platform token the policy accepts (with a jti)
//   KEYGATE_REFUSED_TOKEN  a platform token the policy refuses
//   KEYGATE_POLICY_LIMIT   the policy's limit in USD
//   KEYGATE_MODEL          a configured model priced PROMPT_PRICE / COMPLETION_PRICE
//   KEYGATE_PROMPT_PRICE, KEYGATE_COMPLETION_PRICE  USD per million tokens
//
// Output: one "ok - name" or "not ok - name: reason" line per check, then
// "N passed, M failed". The exit code is 1 when any check failed.

import { OpenRouter } from "@openrouter/sdk";
import { webcrypto } from "node:crypto";

for (const name of ["OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"]) {
  delete process.env[name];
}

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return v;
};
const apiURL = env("KEYGATE_API_URL");
const policyID = env("KEYGATE_POLICY_ID");
const subjectToken = env("KEYGATE_SUBJECT_TOKEN");
const refusedToken = env("KEYGATE_REFUSED_TOKEN");
const policyLimit = Number(env("KEYGATE_POLICY_LIMIT"));
const model = env("KEYGATE_MODEL");
const promptPrice = Number(env("KEYGATE_PROMPT_PRICE"));
const completionPrice = Number(env("KEYGATE_COMPLETION_PRICE"));

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e?.stack || e}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// No API key: the platform's token is the only credential the job holds.
const anonymous = new OpenRouter({ serverURL: apiURL, retryConfig: { strategy: "none" } });
const exchange = (token) =>
  anonymous.oAuth.createOauthToken({
    tokenExchangeRequest: {
      grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
      subjectToken: token,
      subjectTokenType: "urn:ietf:params:oauth:token-type:jwt",
      federationPolicyId: policyID,
      scope: "inference",
      requestedTokenType: "urn:ietf:params:oauth:token-type:access_token",
    },
  });

let accessToken;
await check("sdk oAuth.createOauthToken exchanges the platform token", async () => {
  const res = await exchange(subjectToken);
  assert(res.tokenType === "Bearer", `token_type ${res.tokenType}`);
  assert(res.issuedTokenType === "urn:ietf:params:oauth:token-type:access_token", `issued_token_type ${res.issuedTokenType}`);
  assert(res.scope === "inference", `scope ${res.scope}`);
  assert(res.expiresIn > 0 && res.expiresIn <= 900, `expires_in ${res.expiresIn}`);
  accessToken = res.accessToken;
});

await check("sdk oAuth.createOauthToken refuses a replayed token with invalid_grant", async () => {
  try {
    await exchange(subjectToken);
  } catch (e) {
    assert(e.name === "OAuthErrorResponse", `error ${e.name}: ${e.message}`);
    assert(e.error === "invalid_grant", `error ${e.error}`);
    assert(e.errorDescription, "no error_description");
    return;
  }
  throw new Error("a replayed subject token was exchanged again");
});

await check("sdk oAuth.createOauthToken refuses a token the policy does not admit", async () => {
  try {
    await exchange(refusedToken);
  } catch (e) {
    assert(e.name === "OAuthErrorResponse" && e.error === "invalid_grant", `error ${e.name} ${e.error}`);
    return;
  }
  throw new Error("a token the policy refuses was exchanged");
});

await check("sdk oAuth.listOauthJwks verifies the access token's ES256 signature", async () => {
  assert(accessToken, "no access token");
  const jwks = await anonymous.oAuth.listOauthJwks();
  const [h, p, s] = accessToken.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  assert(header.alg === "ES256", `alg ${header.alg}`);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert(jwk, `no key ${header.kid} in the JWKS`);
  const key = await webcrypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = await webcrypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, Buffer.from(s, "base64url"), Buffer.from(`${h}.${p}`));
  assert(ok, "the signature does not verify");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  assert(claims.exp > Date.now() / 1000 && claims.exp - claims.iat <= 900, `exp ${claims.exp}, iat ${claims.iat}`);
});

await check("sdk chat.send with the access token is charged to the policy", async () => {
  assert(accessToken, "no access token");
  const job = new OpenRouter({ serverURL: apiURL, apiKey: accessToken });
  const before = await job.apiKeys.getCurrentKeyMetadata();
  assert(before.data.limit === policyLimit, `limit ${before.data.limit}, want the policy's ${policyLimit}`);
  const res = await job.chat.send({ chatRequest: { model, messages: [{ role: "user", content: "hello from CI" }] } });
  assert(res.usage, "no usage");
  const hundredths = res.usage.promptTokens * Math.round(promptPrice * 100) + res.usage.completionTokens * Math.round(completionPrice * 100);
  const want = Math.ceil(hundredths / 100);
  const after = await job.apiKeys.getCurrentKeyMetadata();
  const grew = Math.round(after.data.usage * 1e6) - Math.round(before.data.usage * 1e6);
  assert(grew === want, `usage grew by ${grew} µ$, want ${want}`);
  const remaining = Math.round(after.data.limitRemaining * 1e6);
  assert(remaining === Math.round(policyLimit * 1e6) - Math.round(after.data.usage * 1e6), `limit_remaining ${after.data.limitRemaining}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
