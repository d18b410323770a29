// Runs the official OpenRouter TypeScript SDK (@openrouter/sdk, pinned in
// package.json) against a live keygate server. The SDK is used exactly as an
// application would use it; the only thing pointed elsewhere is serverURL.
//
// Environment:
//   KEYGATE_API_URL             API base, e.g. http://127.0.0.1:8080/api/v1
//   KEYGATE_USER_KEY            an ordinary key of a test user
//   KEYGATE_MGMT_KEY            a management key of the same user
//   KEYGATE_CONFORMANCE_GROUPS  comma list of groups to run: core, management,
//                               gateway, apps (default: all four; gateway and
//                               apps need the server started with the scripted
//                               upstream's models, see gateway_test.go)
//   KEYGATE_SERVICE_TOKEN       for apps: a service token (POST /api/v1/usage)
//   KEYGATE_CREDITS_USER_KEY    for apps: an ordinary key of a second user,
//   KEYGATE_CREDITS_MGMT_KEY    and a management key, whose credit balance
//                               is 50 micro-dollars
//
// Output: one "ok - name" or "not ok - name: reason" line per check, then
// "N passed, M failed". The exit code is 1 when any check failed.

import { createHash, randomBytes } from "node:crypto";
import { OpenRouter, HTTPClient } from "@openrouter/sdk";
import * as errors from "@openrouter/sdk/models/errors";

// The SDK falls back to these variables when an option is missing; a
// developer's shell must not change what this suite sends.
for (const name of [
  "OPENROUTER_API_KEY",
  "OPENROUTER_BASE_URL",
  "OPENROUTER_HTTP_REFERER",
  "OPENROUTER_APP_TITLE",
  "OPENROUTER_APP_CATEGORIES",
  "OPENROUTER_DEBUG",
]) {
  delete process.env[name];
}

const apiURL = requiredEnv("KEYGATE_API_URL");
const userKey = requiredEnv("KEYGATE_USER_KEY");
const mgmtKey = requiredEnv("KEYGATE_MGMT_KEY");
const groups = new Set(
  (process.env.KEYGATE_CONFORMANCE_GROUPS || "core,management,gateway,apps")
    .split(",")
    .map((g) => g.trim())
    .filter(Boolean),
);
const knownGroups = new Set(["core", "management", "gateway", "apps"]);
for (const g of groups) {
  if (!knownGroups.has(g)) {
    console.error(`unknown group ${JSON.stringify(g)}; known: ${[...knownGroups].join(", ")}`);
    process.exit(2);
  }
}

const CALLBACK_URL = "http://localhost:3000/cb";
const REFERER = "https://conformance.example/app";
const TITLE = "keygate SDK conformance";
const CATEGORIES = "cli-agent,programming-app";
const INVALID_CODE_MESSAGE = "Invalid code or code_verifier";
const INVALID_METHOD_MESSAGE = "Invalid code_challenge_method";

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Transcript: every HTTP exchange of the running check, printed when it fails.

let transcript = [];

function redact(s) {
  // Keys look like <prefix>v1-<64 hex>; keep only the masked form.
  return s.replace(/(v1-[0-9a-f]{3})[0-9a-f]{58}([0-9a-f]{3})/g, "$1...$2");
}

function clip(s, n = 1500) {
  return s.length > n ? `${s.slice(0, n)}...(${s.length - n} more chars)` : s;
}

async function recordingFetch(input, init) {
  const req = input instanceof Request ? input : new Request(input, init);
  let reqBody = "";
  try {
    reqBody = await req.clone().text();
  } catch {
    // A body that cannot be read again is simply not shown.
  }
  const entry = { method: req.method, url: req.url, reqBody, status: "(no response)", resBody: "" };
  transcript.push(entry);
  try {
    const res = await fetch(req);
    entry.status = `${res.status} ${res.headers.get("content-type") || ""}`.trim();
    entry.resBody = await res.clone().text();
    return res;
  } catch (err) {
    entry.status = `(fetch failed: ${err?.cause?.message || err?.message || err})`;
    throw err;
  }
}

function client(apiKey) {
  return new OpenRouter({
    serverURL: apiURL,
    apiKey,
    httpClient: new HTTPClient({ fetcher: recordingFetch }),
    // The SDK retries 5xx answers for up to an hour by default; a conformance
    // run wants the first answer.
    retryConfig: { strategy: "none" },
    timeoutMs: 15000,
  });
}

// ---------------------------------------------------------------------------
// Checks.

const checks = [];

function check(group, name, fn) {
  checks.push({ group, name, fn });
}

class CheckFailure extends Error {}

function fail(msg) {
  throw new CheckFailure(msg);
}

function show(v) {
  if (v instanceof Date) return `Date(${v.toISOString()})`;
  return JSON.stringify(v);
}

function assertEqual(what, got, want) {
  if (got !== want) fail(`${what} = ${show(got)}, want ${show(want)}`);
}

function assertType(what, got, type) {
  if (typeof got !== type) fail(`${what} = ${show(got)}, want a ${type}`);
}

function assertNonEmptyString(what, got) {
  if (typeof got !== "string" || got === "") fail(`${what} = ${show(got)}, want a non-empty string`);
}

function assertSameInstant(what, got, want) {
  const g = got instanceof Date ? got.getTime() : Date.parse(got);
  const w = want instanceof Date ? want.getTime() : Date.parse(want);
  if (!(g === w)) fail(`${what} = ${show(got)}, want the instant ${show(want)}`);
}

// expectError runs fn, which must throw an instance of cls; it returns the error.
async function expectError(what, fn, cls, status, message) {
  let err;
  try {
    const v = await fn();
    fail(`${what}: succeeded with ${clip(redact(JSON.stringify(v)), 300)}, want ${cls.name} (${status})`);
  } catch (e) {
    if (e instanceof CheckFailure) throw e;
    err = e;
  }
  if (!(err instanceof cls)) {
    fail(`${what}: threw ${describeError(err)}, want ${cls.name} (${status})`);
  }
  if (err.statusCode !== status) {
    fail(`${what}: status ${err.statusCode}, want ${status}`);
  }
  if (message !== undefined && err.message !== message) {
    fail(`${what}: message ${show(err.message)}, want ${show(message)}`);
  }
  return err;
}

function describeError(err) {
  if (err == null) return String(err);
  const name = err.name || err.constructor?.name || "Error";
  const status = err.statusCode !== undefined ? ` status ${err.statusCode}` : "";
  let msg = err.message || String(err);
  if (typeof err.pretty === "function") {
    try {
      msg = err.pretty();
    } catch {
      // keep the plain message
    }
  }
  if (err instanceof errors.OpenRouterDefaultError) {
    // Its message repeats the body, which the transcript shows anyway.
    msg = msg.split(/\.? ?\n?Body: /)[0];
  }
  return `${name}${status}: ${redact(msg)}`;
}

// ---------------------------------------------------------------------------
// Helpers shared by the checks. Each check builds the state it needs itself,
// so one failing check never hides or causes another's result.

function s256(verifier) {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

function oneYearAhead() {
  const t = Date.now() + 365 * 24 * 3600 * 1000;
  return new Date(Math.floor(t / 1000) * 1000);
}

function suffix() {
  return randomBytes(4).toString("hex");
}

// defaultWorkspaceId asks the management API for the user's workspaces and
// returns one id, or undefined when that API is not there (yet).
let workspaceIdPromise;
function defaultWorkspaceId() {
  workspaceIdPromise ??= (async () => {
    try {
      const page = await client(mgmtKey).workspaces.list();
      const list = page.result?.data ?? [];
      const pick = list.find((w) => w.slug === "default") ?? list[0];
      return pick?.id;
    } catch {
      return undefined;
    }
  })();
  return workspaceIdPromise;
}

async function createCode(body = {}, extra = {}) {
  const pkce = await client().oAuth.createSHA256CodeChallenge();
  const res = await client(userKey).oAuth.createAuthCode({
    ...extra,
    requestBody: {
      callbackUrl: CALLBACK_URL,
      codeChallenge: pkce.codeChallenge,
      codeChallengeMethod: "S256",
      ...body,
    },
  });
  return { code: res.data.id, appId: res.data.appId, verifier: pkce.codeVerifier, challenge: pkce.codeChallenge };
}

async function fullFieldsCode() {
  const workspaceId = await defaultWorkspaceId();
  const expiresAt = oneYearAhead();
  const keyLabel = `conformance ${suffix()}`;
  const body = {
    limit: 25,
    expiresAt,
    keyLabel,
    usageLimitType: "weekly",
  };
  if (workspaceId) body.workspaceId = workspaceId;
  const c = await createCode(body, { httpReferer: REFERER, appTitle: TITLE, appCategories: CATEGORIES });
  return { ...c, expiresAt, keyLabel, workspaceId };
}

// The exchange is done without an API key, as a browser front end does it.
function exchange(code, verifier, method) {
  const requestBody = { code };
  if (verifier !== undefined) requestBody.codeVerifier = verifier;
  if (method !== undefined) requestBody.codeChallengeMethod = method;
  return client().oAuth.exchangeAuthCodeForAPIKey({ requestBody });
}

// ---------------------------------------------------------------------------
// Part A: the OAuth PKCE flow ("core").

check("core", "pkce: createSHA256CodeChallenge returns a verifier and its S256 challenge", async () => {
  const r = await client().oAuth.createSHA256CodeChallenge();
  assertNonEmptyString("codeVerifier", r.codeVerifier);
  assertNonEmptyString("codeChallenge", r.codeChallenge);
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(r.codeVerifier)) fail(`codeVerifier ${show(r.codeVerifier)} is not an RFC 7636 verifier`);
  assertEqual("codeChallenge", r.codeChallenge, s256(r.codeVerifier));
  if (!/^[A-Za-z0-9_-]{43}$/.test(r.codeChallenge)) fail(`codeChallenge ${show(r.codeChallenge)} is not 43 base64url characters`);
});

check("core", "auth url: createAuthorizationUrl points at /auth on the server's origin", async () => {
  const pkce = await client().oAuth.createSHA256CodeChallenge();
  const raw = await client().oAuth.createAuthorizationUrl({
    callbackUrl: CALLBACK_URL,
    codeChallenge: pkce.codeChallenge,
    codeChallengeMethod: "S256",
  });
  const u = new URL(raw);
  assertEqual("origin", u.origin, new URL(apiURL).origin);
  assertEqual("pathname", u.pathname, "/auth");
  assertEqual("callback_url", u.searchParams.get("callback_url"), CALLBACK_URL);
  assertEqual("code_challenge", u.searchParams.get("code_challenge"), pkce.codeChallenge);
  assertEqual("code_challenge_method", u.searchParams.get("code_challenge_method"), "S256");
});

check("core", "create code: createAuthCode with attribution headers and every body field", async () => {
  const workspaceId = await defaultWorkspaceId();
  const pkce = await client().oAuth.createSHA256CodeChallenge();
  const requestBody = {
    callbackUrl: CALLBACK_URL,
    codeChallenge: pkce.codeChallenge,
    codeChallengeMethod: "S256",
    limit: 25,
    expiresAt: oneYearAhead(),
    keyLabel: `conformance ${suffix()}`,
    usageLimitType: "weekly",
  };
  if (workspaceId) requestBody.workspaceId = workspaceId;
  const res = await client(userKey).oAuth.createAuthCode({
    httpReferer: REFERER,
    appTitle: TITLE,
    appCategories: CATEGORIES,
    requestBody,
  });
  assertNonEmptyString("data.id", res.data.id);
  assertType("data.appId", res.data.appId, "number");
  if (!Number.isInteger(res.data.appId)) fail(`data.appId = ${res.data.appId}, want an integer`);
  assertNonEmptyString("data.createdAt", res.data.createdAt);
  if (Number.isNaN(Date.parse(res.data.createdAt))) fail(`data.createdAt = ${show(res.data.createdAt)}, want a date-time`);
  if (!workspaceId) return "workspaceId omitted: workspaces.list is not available";
});

check("core", "exchange: exchangeAuthCodeForAPIKey with the verifier returns a key", async () => {
  const c = await fullFieldsCode();
  const res = await exchange(c.code, c.verifier, "S256");
  assertNonEmptyString("key", res.key);
  assertNonEmptyString("userId", res.userId);
});

check("core", "key metadata: getCurrentKeyMetadata with the issued key shows what the code asked for", async () => {
  const c = await fullFieldsCode();
  const { key } = await exchange(c.code, c.verifier, "S256");
  const { data } = await client(key).apiKeys.getCurrentKeyMetadata();
  assertEqual("limit", data.limit, 25);
  assertEqual("limitReset", data.limitReset, "weekly");
  assertEqual("label", data.label, c.keyLabel);
  assertSameInstant("expiresAt", data.expiresAt, c.expiresAt);
  assertEqual("usage", data.usage, 0);
  assertEqual("limitRemaining", data.limitRemaining, 25);
  assertEqual("isManagementKey", data.isManagementKey, false);
  if (c.workspaceId) assertEqual("workspaceId", data.workspaceId, c.workspaceId);
});

check("core", "key metadata: an unknown key is UnauthorizedResponseError (401)", async () => {
  await expectError(
    "getCurrentKeyMetadata",
    () => client(`sk-kg-v1-${"0".repeat(64)}`).apiKeys.getCurrentKeyMetadata(),
    errors.UnauthorizedResponseError,
    401,
  );
});

check("core", "create code: no API key is UnauthorizedResponseError (401)", async () => {
  const pkce = await client().oAuth.createSHA256CodeChallenge();
  await expectError(
    "createAuthCode",
    () =>
      client().oAuth.createAuthCode({
        requestBody: { callbackUrl: CALLBACK_URL, codeChallenge: pkce.codeChallenge, codeChallengeMethod: "S256" },
      }),
    errors.UnauthorizedResponseError,
    401,
  );
});

check("core", "exchange error: a wrong verifier is ForbiddenResponseError (403)", async () => {
  const c = await createCode();
  const other = await client().oAuth.createSHA256CodeChallenge();
  await expectError(
    "exchange with another verifier",
    () => exchange(c.code, other.codeVerifier, "S256"),
    errors.ForbiddenResponseError,
    403,
    INVALID_CODE_MESSAGE,
  );
});

check("core", "exchange error: claiming plain for an S256 code is BadRequestResponseError (400)", async () => {
  const c = await createCode();
  // The public challenge is a well-formed plain verifier: a downgrade attempt.
  await expectError(
    "exchange with method plain",
    () => exchange(c.code, c.challenge, "plain"),
    errors.BadRequestResponseError,
    400,
    INVALID_METHOD_MESSAGE,
  );
});

check("core", "exchange error: the code survives a method mismatch and redeems with the right method", async () => {
  const c = await createCode();
  await expectError(
    "exchange with method plain",
    () => exchange(c.code, c.challenge, "plain"),
    errors.BadRequestResponseError,
    400,
  );
  const res = await exchange(c.code, c.verifier, "S256");
  assertNonEmptyString("key", res.key);
});

check("core", "exchange error: a used code is ForbiddenResponseError (403)", async () => {
  const c = await createCode();
  await exchange(c.code, c.verifier, "S256");
  await expectError(
    "second exchange",
    () => exchange(c.code, c.verifier, "S256"),
    errors.ForbiddenResponseError,
    403,
    INVALID_CODE_MESSAGE,
  );
});

// ---------------------------------------------------------------------------
// Part B: key and workspace management ("management").

async function newManagedKey(extra = {}) {
  const name = `conformance ${suffix()}`;
  const res = await client(mgmtKey).apiKeys.create({ requestBody: { name, ...extra } });
  return { name, res };
}

async function bestEffort(fn) {
  try {
    await fn();
  } catch {
    // Clean-up only; the check has already decided.
  }
}

check("management", "keys: apiKeys.list parses", async () => {
  const res = await client(mgmtKey).apiKeys.list();
  if (!Array.isArray(res.data)) fail(`data = ${show(res.data)}, want an array`);
  if (res.data.length === 0) fail("data is empty, want at least the keys the test user holds");
  for (const k of res.data) assertNonEmptyString("data[].hash", k.hash);
});

check("management", "keys: apiKeys.create returns the key and its hash", async () => {
  const expiresAt = oneYearAhead();
  const { name, res } = await newManagedKey({ limit: 10, limitReset: "monthly", expiresAt });
  try {
    assertNonEmptyString("key", res.key);
    assertNonEmptyString("data.hash", res.data.hash);
    assertEqual("data.hash", res.data.hash, createHash("sha256").update(res.key).digest("hex"));
    assertEqual("data.name", res.data.name, name);
    assertEqual("data.limit", res.data.limit, 10);
    assertEqual("data.limitReset", res.data.limitReset, "monthly");
    assertEqual("data.limitRemaining", res.data.limitRemaining, 10);
    assertEqual("data.disabled", res.data.disabled, false);
    assertSameInstant("data.expiresAt", res.data.expiresAt, expiresAt);
    const me = await client(res.key).apiKeys.getCurrentKeyMetadata();
    assertEqual("new key's own metadata label", me.data.label, name);
  } finally {
    await bestEffort(() => client(mgmtKey).apiKeys.delete({ hash: res.data.hash }));
  }
});

check("management", "keys: apiKeys.list includes a created key", async () => {
  const { res } = await newManagedKey();
  try {
    const list = await client(mgmtKey).apiKeys.list();
    if (!list.data.some((k) => k.hash === res.data.hash)) fail(`list does not contain hash ${res.data.hash}`);
  } finally {
    await bestEffort(() => client(mgmtKey).apiKeys.delete({ hash: res.data.hash }));
  }
});

check("management", "keys: apiKeys.get by hash", async () => {
  const { name, res } = await newManagedKey();
  try {
    const got = await client(mgmtKey).apiKeys.get({ hash: res.data.hash });
    assertEqual("data.hash", got.data.hash, res.data.hash);
    assertEqual("data.name", got.data.name, name);
  } finally {
    await bestEffort(() => client(mgmtKey).apiKeys.delete({ hash: res.data.hash }));
  }
});

check("management", "keys: apiKeys.update echoes name, limit and disabled", async () => {
  const { res } = await newManagedKey();
  try {
    const name = `renamed ${suffix()}`;
    const up = await client(mgmtKey).apiKeys.update({
      hash: res.data.hash,
      requestBody: { name, limit: 7.5, limitReset: "daily", disabled: true },
    });
    assertEqual("data.hash", up.data.hash, res.data.hash);
    assertEqual("data.name", up.data.name, name);
    assertEqual("data.limit", up.data.limit, 7.5);
    assertEqual("data.limitReset", up.data.limitReset, "daily");
    assertEqual("data.disabled", up.data.disabled, true);
    await expectError(
      "getCurrentKeyMetadata with the disabled key",
      () => client(res.key).apiKeys.getCurrentKeyMetadata(),
      errors.UnauthorizedResponseError,
      401,
    );
  } finally {
    await bestEffort(() => client(mgmtKey).apiKeys.delete({ hash: res.data.hash }));
  }
});

check("management", "keys: apiKeys.delete returns deleted true, then get is NotFoundResponseError (404)", async () => {
  const { res } = await newManagedKey();
  const del = await client(mgmtKey).apiKeys.delete({ hash: res.data.hash });
  assertEqual("deleted", del.deleted, true);
  await expectError(
    "get after delete",
    () => client(mgmtKey).apiKeys.get({ hash: res.data.hash }),
    errors.NotFoundResponseError,
    404,
  );
  await expectError(
    "getCurrentKeyMetadata with the deleted key",
    () => client(res.key).apiKeys.getCurrentKeyMetadata(),
    errors.UnauthorizedResponseError,
    401,
  );
});

check("management", "keys: apiKeys.list with an ordinary key is refused with 403", async () => {
  // listKeys declares no 403 class, so the SDK raises its default error.
  await expectError("apiKeys.list", () => client(userKey).apiKeys.list(), errors.OpenRouterError, 403);
});

check("management", "workspaces: workspaces.list parses", async () => {
  const page = await client(mgmtKey).workspaces.list();
  const r = page.result;
  if (!Array.isArray(r?.data)) fail(`result.data = ${show(r?.data)}, want an array`);
  if (r.data.length === 0) fail("result.data is empty, want at least the default workspace");
  assertType("result.totalCount", r.totalCount, "number");
  if (r.totalCount < r.data.length) fail(`totalCount ${r.totalCount} < ${r.data.length} listed`);
});

async function newWorkspace() {
  const s = suffix();
  const name = `Conformance ${s}`;
  const slug = `conformance-${s}`;
  const res = await client(mgmtKey).workspaces.create({
    createWorkspaceRequest: { name, slug, description: "made by the SDK conformance suite" },
  });
  return { name, slug, res };
}

check("management", "workspaces: workspaces.create returns name and slug", async () => {
  const { name, slug, res } = await newWorkspace();
  try {
    assertNonEmptyString("data.id", res.data.id);
    assertEqual("data.name", res.data.name, name);
    assertEqual("data.slug", res.data.slug, slug);
    assertEqual("data.description", res.data.description, "made by the SDK conformance suite");
  } finally {
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "workspaces: workspaces.get by id", async () => {
  const { name, slug, res } = await newWorkspace();
  try {
    const got = await client(mgmtKey).workspaces.get({ id: res.data.id });
    assertEqual("data.id", got.data.id, res.data.id);
    assertEqual("data.name", got.data.name, name);
    assertEqual("data.slug", got.data.slug, slug);
  } finally {
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "workspaces: workspaces.update echoes name and description", async () => {
  const { res } = await newWorkspace();
  try {
    const name = `Renamed ${suffix()}`;
    const up = await client(mgmtKey).workspaces.update({
      id: res.data.id,
      updateWorkspaceRequest: { name, description: "updated" },
    });
    assertEqual("data.id", up.data.id, res.data.id);
    assertEqual("data.name", up.data.name, name);
    assertEqual("data.description", up.data.description, "updated");
  } finally {
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "workspaces: workspaces.delete returns deleted true, then get is NotFoundResponseError (404)", async () => {
  const { res } = await newWorkspace();
  const del = await client(mgmtKey).workspaces.delete({ id: res.data.id });
  assertEqual("deleted", del.deleted, true);
  await expectError(
    "get after delete",
    () => client(mgmtKey).workspaces.get({ id: res.data.id }),
    errors.NotFoundResponseError,
    404,
  );
});

check("management", "workspaces: workspaces.create echoes the settings it was given, and get reports them", async () => {
  const s = suffix();
  const settings = {
    defaultTextModel: "openai/gpt-4o",
    defaultImageModel: "openai/dall-e-3",
    defaultProviderSort: "throughput",
    ioLoggingSamplingRate: 0.25,
    ioLoggingApiKeyIds: [3, 7],
    isDataDiscountLoggingEnabled: true,
    isObservabilityBroadcastEnabled: true,
    isObservabilityIoLoggingEnabled: false,
    disabledServerTools: ["openrouter:web_search"],
  };
  const res = await client(mgmtKey).workspaces.create({
    createWorkspaceRequest: { name: `Conformance settings ${s}`, slug: `conformance-settings-${s}`, ...settings },
  });
  try {
    for (const [got, what] of [
      [res.data, "create"],
      [(await client(mgmtKey).workspaces.get({ id: res.data.id })).data, "get"],
    ]) {
      for (const [k, v] of Object.entries(settings)) {
        if (Array.isArray(v)) assertEqual(`${what}: data.${k}`, show(got[k]), show(v));
        else assertEqual(`${what}: data.${k}`, got[k], v);
      }
    }
  } finally {
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "workspaces: workspaces.update changes one setting, clears another with null, keeps the rest", async () => {
  const s = suffix();
  const res = await client(mgmtKey).workspaces.create({
    createWorkspaceRequest: {
      name: `Conformance update ${s}`,
      slug: `conformance-update-${s}`,
      defaultTextModel: "openai/gpt-4o",
      ioLoggingSamplingRate: 0.5,
    },
  });
  try {
    const up = await client(mgmtKey).workspaces.update({
      id: res.data.id,
      updateWorkspaceRequest: { defaultTextModel: null, defaultProviderSort: "price" },
    });
    assertEqual("data.defaultTextModel", up.data.defaultTextModel, null);
    assertEqual("data.defaultProviderSort", up.data.defaultProviderSort, "price");
    assertEqual("data.ioLoggingSamplingRate", up.data.ioLoggingSamplingRate, 0.5);
  } finally {
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "workspaces: workspaces.create with ioLoggingSamplingRate 0 is BadRequestResponseError (400)", async () => {
  const s = suffix();
  await expectError(
    "workspaces.create",
    () =>
      client(mgmtKey).workspaces.create({
        createWorkspaceRequest: { name: `Conformance bad ${s}`, slug: `conformance-bad-${s}`, ioLoggingSamplingRate: 0 },
      }),
    errors.BadRequestResponseError,
    400,
  );
});

check("management", "workspaces: workspaces.delete takes a workspace whose keys are all disabled, and the keys with it", async () => {
  const { res } = await newWorkspace();
  const key = await client(mgmtKey).apiKeys.create({
    requestBody: { name: `conformance dormant ${suffix()}`, workspaceId: res.data.id },
  });
  try {
    await client(mgmtKey).apiKeys.update({ hash: key.data.hash, requestBody: { disabled: true } });
    const del = await client(mgmtKey).workspaces.delete({ id: res.data.id });
    assertEqual("deleted", del.deleted, true);
    await expectError(
      "apiKeys.get of the disabled key",
      () => client(mgmtKey).apiKeys.get({ hash: key.data.hash }),
      errors.NotFoundResponseError,
      404,
    );
  } finally {
    await bestEffort(() => client(mgmtKey).apiKeys.delete({ hash: key.data.hash }));
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "workspaces: workspaces.delete of a workspace with an enabled key is refused with 409", async () => {
  const { res } = await newWorkspace();
  const key = await client(mgmtKey).apiKeys.create({
    requestBody: { name: `conformance active ${suffix()}`, workspaceId: res.data.id },
  });
  try {
    // deleteWorkspace declares no 409 class, so the SDK raises its default error.
    await expectError(
      "workspaces.delete",
      () => client(mgmtKey).workspaces.delete({ id: res.data.id }),
      errors.OpenRouterError,
      409,
    );
    const got = await client(mgmtKey).apiKeys.get({ hash: key.data.hash });
    assertEqual("the key's data.disabled after the refused delete", got.data.disabled, false);
  } finally {
    await bestEffort(() => client(mgmtKey).apiKeys.delete({ hash: key.data.hash }));
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "budgets: workspaces.setBudget, getBudget, listBudgets and deleteBudget by slug and id", async () => {
  const { slug, res } = await newWorkspace();
  const id = res.data.id;
  const c = client(mgmtKey);
  try {
    const list0 = await c.workspaces.listBudgets({ workspaceRef: slug });
    assertEqual("empty list: data.length", list0.data.length, 0);
    const set = await c.workspaces.setBudget({
      workspaceRef: slug,
      interval: "monthly",
      upsertWorkspaceBudgetRequest: { limitUsd: 500.25 },
    });
    assertEqual("setBudget: data.workspaceId", set.data.workspaceId, id);
    assertEqual("setBudget: data.limitUsd", set.data.limitUsd, 500.25);
    assertEqual("setBudget: data.resetInterval", set.data.resetInterval, "monthly");
    assertEqual("setBudget: includeByokInBudgets", set.includeByokInBudgets, false);
    const again = await c.workspaces.setBudget({
      workspaceRef: id,
      interval: "monthly",
      upsertWorkspaceBudgetRequest: { limitUsd: 600, includeByokInBudgets: true },
    });
    assertEqual("setBudget again: same id", again.data.id, set.data.id);
    assertEqual("setBudget again: data.limitUsd", again.data.limitUsd, 600);
    assertEqual("setBudget again: includeByokInBudgets", again.includeByokInBudgets, true);
    const life = await c.workspaces.setBudget({
      workspaceRef: id,
      interval: "lifetime",
      upsertWorkspaceBudgetRequest: { limitUsd: 1000 },
    });
    assertEqual("lifetime: data.resetInterval", life.data.resetInterval, null);
    const got = await c.workspaces.getBudget({ workspaceRef: slug, interval: "monthly" });
    assertEqual("getBudget: data.limitUsd", got.data.limitUsd, 600);
    const list = await c.workspaces.listBudgets({ workspaceRef: id });
    assertEqual("listBudgets: intervals", show(list.data.map((b) => b.resetInterval)), show([null, "monthly"]));
    assertEqual("listBudgets: includeByokInBudgets", list.includeByokInBudgets, true);
    const del = await c.workspaces.deleteBudget({ workspaceRef: slug, interval: "lifetime" });
    assertEqual("deleteBudget: deleted", del.deleted, true);
    await expectError(
      "getBudget after delete",
      () => c.workspaces.getBudget({ workspaceRef: slug, interval: "lifetime" }),
      errors.NotFoundResponseError,
      404,
      "Budget not found",
    );
  } finally {
    await bestEffort(() => c.workspaces.delete({ id }));
  }
});

check("management", "budgets: workspaces.setBudget with an ordinary key is refused with 403, a negative limit with 400", async () => {
  const { slug, res } = await newWorkspace();
  try {
    // The SDK lists no 403 for setBudget: its default error carries it.
    await expectError(
      "setBudget with an ordinary key",
      () => client(userKey).workspaces.setBudget({ workspaceRef: slug, interval: "daily", upsertWorkspaceBudgetRequest: { limitUsd: 1 } }),
      errors.OpenRouterDefaultError,
      403,
    );
    await expectError(
      "setBudget with limit_usd -1",
      () => client(mgmtKey).workspaces.setBudget({ workspaceRef: slug, interval: "daily", upsertWorkspaceBudgetRequest: { limitUsd: -1 } }),
      errors.BadRequestResponseError,
      400,
    );
  } finally {
    await bestEffort(() => client(mgmtKey).workspaces.delete({ id: res.data.id }));
  }
});

check("management", "guardrails: create, get, list, update and delete parse, with every member echoed", async () => {
  const c = client(mgmtKey);
  const created = await c.guardrails.create({
    createGuardrailRequest: {
      name: `Conformance guardrail ${suffix()}`,
      description: "made by the SDK conformance suite",
      allowedModels: ["t/cheap", "t/other"],
      ignoredProviders: ["slow"],
      allowedDataRegions: ["europe"],
      limitUsd: 50,
      resetInterval: "monthly",
      includeByokInBudgets: true,
      contentFilters: [{ action: "block", pattern: "\\d{16}", label: "card" }],
      contentFilterBuiltins: [{ action: "redact", slug: "email", label: "[EMAIL]" }],
      enforceZdr: true,
      enablePaidModelTraining: false,
    },
  });
  const id = created.data.id;
  try {
    const d = created.data;
    assertEqual("allowedModels", show(d.allowedModels), show(["t/cheap", "t/other"]));
    assertEqual("ignoredProviders", show(d.ignoredProviders), show(["slow"]));
    assertEqual("allowedDataRegions", show(d.allowedDataRegions), show(["europe"]));
    assertEqual("limitUsd", d.limitUsd, 50);
    assertEqual("resetInterval", d.resetInterval, "monthly");
    assertEqual("includeByokInBudgets", d.includeByokInBudgets, true);
    assertEqual("contentFilters[0].pattern", d.contentFilters?.[0]?.pattern, "\\d{16}");
    assertEqual("contentFilterBuiltins[0].slug", d.contentFilterBuiltins?.[0]?.slug, "email");
    assertEqual("enforceZdr", d.enforceZdr, true);
    assertNonEmptyString("workspaceId", d.workspaceId);
    const got = await c.guardrails.get({ id });
    assertEqual("get: name", got.data.name, d.name);
    const page = await c.guardrails.list();
    if (!page.result.data.some((g) => g.id === id)) fail("list does not include the created guardrail");
    assertType("list: totalCount", page.result.totalCount, "number");
    const up = await c.guardrails.update({ id, updateGuardrailRequest: { allowedModels: null, limitUsd: 10, name: "Renamed" } });
    assertEqual("update: allowedModels", up.data.allowedModels, null);
    assertEqual("update: limitUsd", up.data.limitUsd, 10);
    assertEqual("update: name", up.data.name, "Renamed");
    assertEqual("update: resetInterval kept", up.data.resetInterval, "monthly");
  } finally {
    const del = await c.guardrails.delete({ id });
    assertEqual("delete: deleted", del.deleted, true);
  }
  await expectError("get after delete", () => c.guardrails.get({ id }), errors.NotFoundResponseError, 404, "Guardrail not found");
});

check("management", "guardrails: bulkAssignKeys, listGuardrailKeyAssignments, listKeyAssignments and bulkUnassignKeys", async () => {
  const c = client(mgmtKey);
  const g = await c.guardrails.create({ createGuardrailRequest: { name: `Conformance assign ${suffix()}` } });
  const { res: k } = await newManagedKey();
  try {
    const a = await c.guardrails.bulkAssignKeys({ id: g.data.id, bulkAssignKeysRequest: { keyHashes: [k.data.hash] } });
    assertEqual("assignedCount", a.assignedCount, 1);
    const again = await c.guardrails.bulkAssignKeys({ id: g.data.id, bulkAssignKeysRequest: { keyHashes: [k.data.hash] } });
    assertEqual("assignedCount again", again.assignedCount, 0);
    const list = await c.guardrails.listGuardrailKeyAssignments({ id: g.data.id });
    assertEqual("assignments: totalCount", list.result.totalCount, 1);
    assertEqual("assignments: keyHash", list.result.data[0].keyHash, k.data.hash);
    assertEqual("assignments: guardrailId", list.result.data[0].guardrailId, g.data.id);
    const all = await c.guardrails.listKeyAssignments();
    if (!all.result.data.some((x) => x.keyHash === k.data.hash)) fail("listKeyAssignments does not include the assignment");
    const un = await c.guardrails.bulkUnassignKeys({ id: g.data.id, bulkUnassignKeysRequest: { keyHashes: [k.data.hash] } });
    assertEqual("unassignedCount", un.unassignedCount, 1);
  } finally {
    await bestEffort(() => c.apiKeys.delete({ hash: k.data.hash }));
    await bestEffort(() => c.guardrails.delete({ id: g.data.id }));
  }
});

// ---------------------------------------------------------------------------
// Part C: the metering gateway ("gateway"). The upstream behind keygate answers
// every chat with "Hello from keygate" and 10 prompt + 20 completion tokens,
// with OpenAI's null members; t/cheap costs 0.50/1.50 USD per million tokens,
// so each answer is 35 micro-dollars.

async function gatewayKey() {
  const { res } = await newManagedKey({ limit: 1 });
  return res.key;
}

const helloChat = (stream) => ({
  chatRequest: { model: "t/cheap", messages: [{ role: "user", content: "Say hello" }], stream },
});

check("gateway", "chat.send without streaming parses and is charged 35 micro-dollars", async () => {
  const key = await gatewayKey();
  const res = await client(key).chat.send(helloChat(false));
  assertEqual("choices[0].message.content", res.choices[0].message.content, "Hello from keygate");
  assertEqual("usage.totalTokens", res.usage?.totalTokens, 30);
  const { data } = await client(key).apiKeys.getCurrentKeyMetadata();
  assertEqual("usage after the answer", data.usage, 0.000035);
  assertEqual("limitRemaining after the answer", data.limitRemaining, 0.999965);
  const gen = await client(key).generations.getGeneration({ id: res.id });
  assertEqual("generation totalCost", gen.data.totalCost, 0.000035);
  assertEqual("generation model", gen.data.model, "t/cheap");
  assertEqual("generation streamed", gen.data.streamed, false);
});

check("gateway", "chat.send streaming parses every chunk, ends, and is charged", async () => {
  const key = await gatewayKey();
  const stream = await client(key).chat.send(helloChat(true));
  let text = "";
  let id = "";
  let usageChunks = 0;
  for await (const chunk of stream) {
    id ||= chunk.id;
    if (chunk.usage) usageChunks++;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assertEqual("streamed text", text, "Hello from keygate");
  assertEqual("usage chunks (not asked for)", usageChunks, 0);
  const { data } = await client(key).apiKeys.getCurrentKeyMetadata();
  assertEqual("usage after the stream", data.usage, 0.000035);
  const gen = await client(key).generations.getGeneration({ id });
  assertEqual("generation streamed", gen.data.streamed, true);
  assertEqual("generation finishReason", gen.data.finishReason, "stop");
});

check("gateway", "chat.send streaming with include_usage gets the usage chunk", async () => {
  const key = await gatewayKey();
  const stream = await client(key).chat.send({
    chatRequest: { ...helloChat(true).chatRequest, streamOptions: { includeUsage: true } },
  });
  let usage;
  for await (const chunk of stream) usage = chunk.usage ?? usage;
  assertEqual("usage.promptTokens", usage?.promptTokens, 10);
  assertEqual("usage.completionTokens", usage?.completionTokens, 20);
});

check("gateway", "a stream the upstream breaks raises in the SDK and is charged for what was produced", async () => {
  const key = await gatewayKey();
  const stream = await client(key).chat.send({ chatRequest: { ...helloChat(true).chatRequest, model: "t/broken" } });
  let text = "";
  let raised = false;
  try {
    for await (const chunk of stream) {
      if (chunk.error) {
        raised = true;
        assertType("error.code", chunk.error.code, "number");
        break;
      }
      text += chunk.choices[0]?.delta?.content ?? "";
    }
  } catch (err) {
    if (err instanceof CheckFailure) throw err;
    raised = true;
  }
  if (!raised) fail(`the stream ended normally after ${show(text)}`);
  const { data } = await client(key).apiKeys.getCurrentKeyMetadata();
  if (!(data.usage > 0)) fail(`usage ${data.usage}, want more than 0`);
});

check("gateway", "an unknown model is BadRequestResponseError (400) naming it", async () => {
  const key = await gatewayKey();
  const err = await expectError(
    "chat.send",
    () => client(key).chat.send({ chatRequest: { ...helloChat(false).chatRequest, model: "acme/nope" } }),
    errors.BadRequestResponseError,
    400,
  );
  if (!err.message.includes("acme/nope")) fail(`message ${show(err.message)} does not name the model`);
});

check("gateway", "chat.send of a key whose workspace budget is spent is ForbiddenResponseError (403) naming the budget", async () => {
  const { slug, res } = await newWorkspace();
  const id = res.data.id;
  const c = client(mgmtKey);
  const { res: k } = await newManagedKey({ workspaceId: id });
  try {
    await c.workspaces.setBudget({ workspaceRef: slug, interval: "daily", upsertWorkspaceBudgetRequest: { limitUsd: 0.00003 } });
    // Admitted with what is left (30 micro-dollars), charged its 35.
    await client(k.key).chat.send(helloChat(false));
    await expectError(
      "chat.send past the budget",
      () => client(k.key).chat.send(helloChat(false)),
      errors.ForbiddenResponseError,
      403,
      `Workspace budget exceeded (daily budget of workspace ${id})`,
    );
  } finally {
    await bestEffort(() => c.apiKeys.delete({ hash: k.data.hash }));
    await bestEffort(() => c.workspaces.delete({ id }));
  }
});

check("gateway", "chat.send of a model outside the key's guardrail is ForbiddenResponseError (403) naming the model", async () => {
  const c = client(mgmtKey);
  const g = await c.guardrails.create({ createGuardrailRequest: { name: `Conformance models ${suffix()}`, allowedModels: ["t/cheap", "t/other"] } });
  const { res: k } = await newManagedKey({ limit: 1 });
  try {
    await c.guardrails.bulkAssignKeys({ id: g.data.id, bulkAssignKeysRequest: { keyHashes: [k.data.hash] } });
    const ok = await client(k.key).chat.send(helloChat(false));
    assertEqual("an allowed model: content", ok.choices[0].message.content, "Hello from keygate");
    await expectError(
      "chat.send of t/broken",
      () => client(k.key).chat.send({ chatRequest: { ...helloChat(false).chatRequest, model: "t/broken" } }),
      errors.ForbiddenResponseError,
      403,
      'Model "t/broken" is not allowed by this key\'s guardrails',
    );
  } finally {
    await bestEffort(() => c.apiKeys.delete({ hash: k.data.hash }));
    await bestEffort(() => c.guardrails.delete({ id: g.data.id }));
  }
});

check("gateway", "models.list parses with per-token prices", async () => {
  const res = await client(userKey).models.list();
  const m = res.result.data.find((x) => x.id === "t/cheap");
  if (!m) fail(`t/cheap not in ${show(res.result.data.map((x) => x.id))}`);
  assertEqual("pricing.prompt", m.pricing.prompt, "0.0000005");
  assertEqual("pricing.completion", m.pricing.completion, "0.0000015");
});

check("gateway", "endpoints.list of the details a listed model links to parses, and an unknown model is NotFoundResponseError (404)", async () => {
  const list = await client(userKey).models.list();
  const m = list.result.data.find((x) => x.id === "t/cheap");
  assertEqual("links.details", m.links.details, "/api/v1/models/t/cheap/endpoints");
  const res = await client(userKey).endpoints.list({ author: "t", slug: "cheap" });
  assertEqual("id", res.data.id, "t/cheap");
  assertEqual("endpoints", res.data.endpoints.length, 1);
  const e = res.data.endpoints[0];
  assertEqual("modelId", e.modelId, "t/cheap");
  assertEqual("pricing.prompt", e.pricing.prompt, "0.0000005");
  assertEqual("pricing.completion", e.pricing.completion, "0.0000015");
  await expectError(
    "endpoints.list",
    () => client(userKey).endpoints.list({ author: "t", slug: "nope" }),
    errors.NotFoundResponseError,
    404,
  );
});

check("gateway", "generations.getGeneration of an unknown id is NotFoundResponseError (404)", async () => {
  await expectError(
    "getGeneration",
    () => client(userKey).generations.getGeneration({ id: "gen-unknown" }),
    errors.NotFoundResponseError,
    404,
  );
});

// ---------------------------------------------------------------------------
// Part D: apps and what they spend ("apps"): app rankings from the gateway's
// traffic, a user's activity from usage reported for yesterday, credits.

function utcDay(offsetDays = 0) {
  return new Date(Date.now() + offsetDays * 86400000).toISOString().slice(0, 10);
}

function appClient(apiKey, n) {
  return new OpenRouter({
    serverURL: apiURL,
    apiKey,
    httpReferer: `https://app-${n}.conformance.example/`,
    appTitle: `Conformance app ${n}`,
    appCategories: "native-app-builder",
    httpClient: new HTTPClient({ fetcher: recordingFetch }),
    retryConfig: { strategy: "none" },
    timeoutMs: 15000,
  });
}

check("apps", "rankings: datasets.getAppRankings ranks three apps by their traffic through the gateway", async () => {
  const key = await gatewayKey();
  for (const [n, requests] of [[1, 1], [2, 3], [3, 2]]) {
    for (let i = 0; i < requests; i++) await appClient(key, n).chat.send(helloChat(false));
  }
  const today = utcDay();
  const res = await client(userKey).datasets.getAppRankings({ startDate: today, endDate: today, subcategory: "native-app-builder" });
  const rows = res.result.data.map((r) => `${r.rank}:${r.appName}:${r.totalTokens}:${r.totalRequests}`).join(" ");
  assertEqual("rows", rows, "1:Conformance app 2:90:3 2:Conformance app 3:60:2 3:Conformance app 1:30:1");
  assertEqual("meta.version", res.result.meta.version, "v1");
  assertEqual("meta.startDate", res.result.meta.startDate, today);
  assertEqual("meta.endDate", res.result.meta.endDate, today);
  const page = await client(userKey).datasets.getAppRankings({ startDate: today, endDate: today, subcategory: "native-app-builder", offset: 1, limit: 1 });
  assertEqual("offset 1: rank", page.result.data[0]?.rank, 2);
  assertEqual("offset 1: rows", page.result.data.length, 1);
  const coding = await client(userKey).datasets.getAppRankings({ startDate: today, endDate: today, category: "coding" });
  if (!coding.result.data.some((r) => r.appName === "Conformance app 2")) fail(`category coding: ${show(coding.result.data)}`);
});

check("apps", "rankings: a subcategory outside its category is BadRequestResponseError (400)", async () => {
  await expectError(
    "getAppRankings",
    () => client(userKey).datasets.getAppRankings({ category: "entertainment", subcategory: "cli-agent" }),
    errors.BadRequestResponseError,
    400,
  );
  await expectError("getAppRankings", () => client(userKey).datasets.getAppRankings({ limit: 101 }), errors.BadRequestResponseError, 400);
});

check("apps", "activity: analytics.getUserActivity shows usage reported for yesterday, per model and per workspace", async () => {
  const serviceToken = requiredEnv("KEYGATE_SERVICE_TOKEN");
  const yesterday = utcDay(-1);
  const id = suffix();
  const res = await fetch(`${apiURL}/usage`, {
    method: "POST",
    headers: { Authorization: `Bearer ${serviceToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      events: [
        { id: `a-${id}`, key: userKey, model: "acme/activity", prompt_tokens: 100, completion_tokens: 50, cost: 0.00125, created_at: `${yesterday}T12:00:00Z` },
        { id: `b-${id}`, key: userKey, model: "acme/activity", prompt_tokens: 1, completion_tokens: 2, cost: 0.000001, created_at: `${yesterday}T23:59:59Z` },
        { id: `c-${id}`, key: userKey, model: "acme/other", prompt_tokens: 7, completion_tokens: 0, cost: 0, created_at: `${yesterday}T00:00:00Z` },
      ],
    }),
  });
  const body = await res.json();
  assertEqual("usage report status", res.status, 200);
  assertEqual("usage report accepted", body.data?.accepted, 3);
  const act = await client(mgmtKey).analytics.getUserActivity({ date: yesterday });
  const rows = act.data.map((r) => `${r.date}:${r.model}:${r.requests}:${r.promptTokens}:${r.completionTokens}:${r.usage}`).join(" ");
  assertEqual("rows", rows, `${yesterday}:acme/activity:2:101:52:0.001251 ${yesterday}:acme/other:1:7:0:0`);
  if (act.data.some((r) => r.workspaceId !== undefined)) fail("workspaceId present without groupBy");
  const byWs = await client(mgmtKey).analytics.getUserActivity({ date: yesterday, groupBy: "workspace" });
  if (!byWs.data.every((r) => typeof r.workspaceId === "string" && r.workspaceId !== "")) fail(`groupBy workspace: ${show(byWs.data)}`);
  await expectError("getUserActivity with an ordinary key", () => client(userKey).analytics.getUserActivity(), errors.ForbiddenResponseError, 403);
});

check("apps", "credits: credits.getCredits, and a spent balance is PaymentRequiredResponseError (402) while another user keeps working", async () => {
  const creditsUser = requiredEnv("KEYGATE_CREDITS_USER_KEY");
  const creditsMgmt = requiredEnv("KEYGATE_CREDITS_MGMT_KEY");
  const unlimited = await client(mgmtKey).credits.getCredits();
  assertEqual("an account never granted: totalCredits", unlimited.data.totalCredits, 1e9);
  const before = await client(creditsMgmt).credits.getCredits();
  assertEqual("totalCredits", before.data.totalCredits, 0.00005);
  assertEqual("totalUsage", before.data.totalUsage, 0);
  await client(creditsUser).chat.send(helloChat(false)); // 35 µ$
  await client(creditsUser).chat.send(helloChat(false)); // 70 µ$: admitted with 15 left
  const err = await expectError(
    "chat.send with the balance spent",
    () => client(creditsUser).chat.send(helloChat(false)),
    errors.PaymentRequiredResponseError,
    402,
  );
  if (!err.message.startsWith("Insufficient credits")) fail(`message ${show(err.message)}`);
  const after = await client(creditsMgmt).credits.getCredits();
  assertEqual("totalUsage after", after.data.totalUsage, 0.00007);
  const other = await client(await gatewayKey()).chat.send(helloChat(false));
  assertEqual("another user's answer", other.choices[0].message.content, "Hello from keygate");
});

// ---------------------------------------------------------------------------

let passed = 0;
let failed = 0;
for (const c of checks) {
  if (!groups.has(c.group)) continue;
  transcript = [];
  try {
    const note = await c.fn();
    passed++;
    console.log(`ok - ${c.group}: ${c.name}${note ? ` # ${note}` : ""}`);
  } catch (err) {
    failed++;
    const reason = err instanceof CheckFailure ? err.message : `threw ${describeError(err)}`;
    const [first, ...rest] = reason.split("\n");
    console.log(`not ok - ${c.group}: ${c.name}: ${first}`);
    for (const line of rest) console.log(`  # ${line}`);
    for (const t of transcript) {
      console.log(`  # > ${t.method} ${t.url}`);
      if (t.reqBody) console.log(`  #   ${clip(redact(t.reqBody), 600)}`);
      console.log(`  # < ${t.status}`);
      if (t.resBody) console.log(`  #   ${clip(redact(t.resBody))}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
