// Runs real clients, unchanged but for their base URL, against `keygate
// emulate` with nobody approving: the official OpenRouter SDK's whole OAuth
// PKCE flow and a chat.send on keygate/echo, the `openai` package streaming
// keygate/lorem, a daily limit run out and allowed again after the clock is
// advanced through the control API, the approve mode chosen per request,
// and each fault answered as docs/emulator.md documents it.
//
// Environment:
//   KEYGATE_EMULATOR_URL  the emulator's base URL, e.g. http://127.0.0.1:8080
//   KEYGATE_LOREM_WORDS   the emulator's --lorem-words
//   KEYGATE_PROMPT_PRICE, KEYGATE_COMPLETION_PRICE  its prices, USD per million tokens
//
// Output: one "ok - name" or "not ok - name: reason" line per check, then
// "N passed, M failed". The exit code is 1 when any check failed.

import { OpenRouter } from "@openrouter/sdk";
import OpenAI from "openai";

for (const name of ["OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"]) {
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
const base = env("KEYGATE_EMULATOR_URL");
const apiURL = `${base}/api/v1`;
const loremWords = Number(env("KEYGATE_LOREM_WORDS"));
const promptPrice = Number(env("KEYGATE_PROMPT_PRICE"));
const completionPrice = Number(env("KEYGATE_COMPLETION_PRICE"));
const CALLBACK_URL = "http://localhost:3000/callback";

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

// control calls the emulator's control API.
async function control(method, path, body) {
  const res = await fetch(`${base}/emulator/${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert(res.ok, `${method} /emulator/${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// Prices are whole USD per million tokens here: µ$ per token (word).
const costMicros = (prompt, completion) => prompt * promptPrice + completion * completionPrice;
const lorem = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split(" ");

// signIn runs the SDK's OAuth PKCE flow as an app does, the browser
// following /auth to the callback, and returns the callback's query.
async function signIn(sdk, state) {
  const pkce = await sdk.oAuth.createSHA256CodeChallenge();
  const url = new URL(
    await sdk.oAuth.createAuthorizationUrl({
      callbackUrl: CALLBACK_URL,
      codeChallenge: pkce.codeChallenge,
      codeChallengeMethod: "S256",
    }),
  );
  url.searchParams.set("state", state);
  const res = await fetch(url, { redirect: "manual" });
  assert(res.status === 302, `GET /auth: ${res.status}, want 302`);
  const to = new URL(res.headers.get("location"));
  assert(to.origin + to.pathname === CALLBACK_URL, `redirected to ${to}`);
  return { query: to.searchParams, verifier: pkce.codeVerifier };
}

const anon = new OpenRouter({ serverURL: apiURL });

await check("sdk OAuth flow with nobody approving, then chat.send on keygate/echo", async () => {
  const { query, verifier } = await signIn(anon, "s-1");
  assert(query.get("state") === "s-1", `state ${query.get("state")}`);
  const code = query.get("code");
  assert(code, "no code on the callback");
  const { key, userId } = await anon.oAuth.exchangeAuthCodeForAPIKey({
    requestBody: { code, codeVerifier: verifier, codeChallengeMethod: "S256" },
  });
  assert(/^sk-or-v1-[0-9a-f]{64}$/.test(key), "the key is not an sk-or-v1- key");
  assert(userId, "no userId");

  const sdk = new OpenRouter({ serverURL: apiURL, apiKey: key });
  const res = await sdk.chat.send({
    chatRequest: { model: "keygate/echo", messages: [{ role: "user", content: "echo these five words" }] },
  });
  assert(res.choices[0].message.content === "echo these five words", `content ${res.choices[0].message.content}`);
  assert(res.usage.promptTokens === 4 && res.usage.completionTokens === 4, `usage ${JSON.stringify(res.usage)}`);
  const { data } = await sdk.apiKeys.getCurrentKeyMetadata();
  assert(Math.round(data.usage * 1e6) === costMicros(4, 4), `usage ${data.usage} USD, want ${costMicros(4, 4)} µ$`);

  const codes = await control("GET", "codes");
  assert(codes.data.some((c) => c.code === code && c.via === "auth" && c.state === "s-1"), "the code is not in /emulator/codes");
  const exchanges = await control("GET", "exchanges");
  assert(exchanges.data.some((x) => x.code === code && x.status === 200 && x.user_id === userId), "the exchange is not in /emulator/exchanges");
});

await check("approve mode per request: deny once, then approved again", async () => {
  await control("POST", "approve", { mode: "deny", next: 1 });
  const denied = await signIn(anon, "s-2");
  assert(denied.query.get("error") === "access_denied" && !denied.query.has("code"), `callback ${denied.query}`);
  assert(denied.query.get("state") === "s-2", "state not echoed on a denial");
  const approved = await signIn(anon, "s-3");
  assert(approved.query.get("code"), "the next sign-in got no code");
});

// A key of the dev user, made through the control API.
async function newKey(body) {
  return (await control("POST", "keys", body)).key;
}

await check("openai streams keygate/lorem word by word, charged by its usage chunk", async () => {
  const key = await newKey({ name: "lorem" });
  const openai = new OpenAI({ baseURL: apiURL, apiKey: key, maxRetries: 0 });
  const stream = await openai.chat.completions.create({
    model: "keygate/lorem",
    messages: [{ role: "user", content: "write" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  let usage;
  for await (const chunk of stream) {
    const t = chunk.choices[0]?.delta?.content;
    if (t) chunks.push(t);
    if (chunk.usage) usage = chunk.usage;
  }
  const want = Array.from({ length: loremWords }, (_, i) => lorem[i % lorem.length]).join(" ");
  assert(chunks.join("") === want, `text ${JSON.stringify(chunks.join(""))}, want ${JSON.stringify(want)}`);
  assert(chunks.length === loremWords, `${chunks.length} chunks, want one per word`);
  assert(usage && usage.prompt_tokens === 1 && usage.completion_tokens === loremWords, `usage ${JSON.stringify(usage)}`);
  const requests = await control("GET", "requests");
  const r = requests.data.find((x) => x.model === "keygate/lorem" && x.streamed);
  assert(r && r.cost_micros === costMicros(1, loremWords), `recorded ${JSON.stringify(r)}`);
});

await check("daily limit run out, clock advanced a day through the control API, allowed again", async () => {
  // Ten words each way cost exactly the limit: the first answer spends it.
  const limit = costMicros(10, 10) / 1e6;
  const key = await newKey({ name: "daily", limit, limit_reset: "daily" });
  const openai = new OpenAI({ baseURL: apiURL, apiKey: key, maxRetries: 0 });
  const ask = () =>
    openai.chat.completions.create({
      model: "keygate/echo",
      messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }],
    });
  const first = await ask();
  assert(first.usage.total_tokens === 20, `usage ${JSON.stringify(first.usage)}`);
  try {
    await ask();
    throw new Error("the second call succeeded past the daily limit");
  } catch (e) {
    assert(e.status === 403, `status ${e.status}: ${e.message}`);
    assert(String(e.message).includes("Key limit exceeded (daily limit)"), `message ${e.message}`);
  }
  const clock = await control("POST", "clock", { advance: "24h" });
  assert(clock.offset_seconds === 86400, `offset ${clock.offset_seconds}`);
  const again = await ask();
  assert(again.choices[0].message.content.startsWith("one two"), "no answer after the clock moved");
});

const faults = [
  { fault: "429", status: 429, retryAfter: "1" },
  { fault: "500", status: 502 },
  { fault: "502", status: 502 },
  { fault: "timeout", status: 504 },
];
for (const f of faults) {
  for (const how of ["header", "suffix"]) {
    await check(`fault ${f.fault} by ${how}: ${f.status}`, async () => {
      const key = await newKey({ name: `fault ${f.fault}` });
      const openai = new OpenAI({ baseURL: apiURL, apiKey: key, maxRetries: 0 });
      const model = how === "suffix" ? `keygate/echo:${f.fault}` : "keygate/echo";
      const headers = how === "header" ? { "X-Keygate-Fault": f.fault } : {};
      try {
        await openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }, { headers });
        throw new Error("the call succeeded");
      } catch (e) {
        assert(e.status === f.status, `status ${e.status}: ${e.message}`);
        if (f.retryAfter) assert(e.headers?.get("retry-after") === f.retryAfter, `Retry-After ${e.headers?.get("retry-after")}`);
      }
      const { data } = await new OpenRouter({ serverURL: apiURL, apiKey: key }).apiKeys.getCurrentKeyMetadata();
      assert(data.usage === 0, `a failed call was charged ${data.usage} USD`);
    });
  }
}

await check("fault cut-stream: the stream ends with an error, charged for what was produced", async () => {
  const key = await newKey({ name: "cut" });
  const openai = new OpenAI({ baseURL: apiURL, apiKey: key, maxRetries: 0 });
  const stream = await openai.chat.completions.create(
    { model: "keygate/lorem", messages: [{ role: "user", content: "write" }], stream: true },
    { headers: { "X-Keygate-Fault": "cut-stream" } },
  );
  let text = "";
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    throw new Error("the stream ended without an error");
  } catch (e) {
    assert(String(e.message).includes("ended the stream early"), `error ${e.message}`);
  }
  const half = Array.from({ length: Math.floor(loremWords / 2) }, (_, i) => lorem[i % lorem.length]).join(" ");
  assert(text === half, `text ${JSON.stringify(text)}, want ${JSON.stringify(half)}`);
  const { data } = await new OpenRouter({ serverURL: apiURL, apiKey: key }).apiKeys.getCurrentKeyMetadata();
  assert(data.usage > 0, "the cut stream was free");
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
