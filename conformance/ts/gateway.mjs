// Runs real LLM clients, unchanged but for their base URL, through keygate's
// metering gateway: the official OpenRouter SDK (@openrouter/sdk chat.send,
// models.list, generations.getGeneration), the `openai` package (chat,
// streaming chat, embeddings) and the Vercel AI SDK with the OpenRouter
// provider (generateText, streamText). After each call it checks that the
// key's usage grew by exactly the price of the tokens the answer reported.
//
// Environment:
//   KEYGATE_API_URL     API base, e.g. http://127.0.0.1:8080/api/v1
//   KEYGATE_USER_KEY    an ordinary key without a limit
//   KEYGATE_LIMITED_KEY a key whose limit is already spent
//   KEYGATE_MODEL       a configured model priced PROMPT_PRICE / COMPLETION_PRICE
//   KEYGATE_EMBED_MODEL a configured embedding model priced PROMPT_PRICE
//   KEYGATE_PROMPT_PRICE, KEYGATE_COMPLETION_PRICE  USD per million tokens
//
// Output: one "ok - name" or "not ok - name: reason" line per check, then
// "N passed, M failed". The exit code is 1 when any check failed.

import { OpenRouter } from "@openrouter/sdk";
import OpenAI from "openai";
import { generateText, streamText } from "ai";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";

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
const apiURL = env("KEYGATE_API_URL");
const userKey = env("KEYGATE_USER_KEY");
const limitedKey = env("KEYGATE_LIMITED_KEY");
const model = env("KEYGATE_MODEL");
const embedModel = env("KEYGATE_EMBED_MODEL");
// USD per million tokens is micro-dollars per token.
const promptPrice = Number(env("KEYGATE_PROMPT_PRICE"));
const completionPrice = Number(env("KEYGATE_COMPLETION_PRICE"));

const REFERER = "https://gateway-conformance.example/app";
const TITLE = "keygate gateway conformance";

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

// costMicros is the gateway's price of an answer: exact, rounded up once.
function costMicros(prompt, completion) {
  // Prices here have at most two decimals: work in hundredths of a µ$.
  const hundredths = prompt * Math.round(promptPrice * 100) + completion * Math.round(completionPrice * 100);
  return Math.ceil(hundredths / 100);
}

const sdk = new OpenRouter({ serverURL: apiURL, apiKey: userKey });

// usageMicros reads the key's all-time usage through the SDK, in µ$.
async function usageMicros() {
  const res = await sdk.apiKeys.getCurrentKeyMetadata();
  return Math.round(res.data.usage * 1e6);
}

async function expectCharged(before, prompt, completion) {
  const want = costMicros(prompt, completion);
  assert(want > 0, `the answer reported no tokens (${prompt}/${completion})`);
  const after = await usageMicros();
  assert(after - before === want, `usage grew by ${after - before} µ$, want ${want} µ$ for ${prompt}/${completion} tokens`);
}

const messages = [{ role: "user", content: "Say hello to the conformance suite." }];

await check("sdk models.list lists the configured model with per-token prices", async () => {
  const res = await sdk.models.list();
  const m = res.result.data.find((x) => x.id === model);
  assert(m, `models.list has no ${model}`);
  assert(Number(m.pricing.prompt) * 1e6 === promptPrice, `prompt price ${m.pricing.prompt}`);
  assert(Number(m.pricing.completion) * 1e6 === completionPrice, `completion price ${m.pricing.completion}`);
});

let generationID;
await check("sdk chat.send charges the reported usage", async () => {
  const before = await usageMicros();
  const res = await sdk.chat.send({
    httpReferer: REFERER,
    appTitle: TITLE,
    chatRequest: { model, messages },
  });
  assert(res.choices[0].message.content, "no content");
  assert(res.usage, "no usage in the answer");
  generationID = res.id;
  await expectCharged(before, res.usage.promptTokens, res.usage.completionTokens);
});

await check("sdk generations.getGeneration reports the charged call", async () => {
  assert(generationID, "no generation id from chat.send");
  const res = await sdk.generations.getGeneration({ id: generationID });
  assert(res.data.id === generationID, `id ${res.data.id}`);
  assert(res.data.model === model, `model ${res.data.model}`);
  assert(res.data.streamed === false, `streamed ${res.data.streamed}`);
  const want = costMicros(res.data.tokensPrompt, res.data.tokensCompletion);
  assert(Math.round(res.data.totalCost * 1e6) === want, `total_cost ${res.data.totalCost}, want ${want} µ$`);
});

await check("sdk chat.send streams and charges", async () => {
  const before = await usageMicros();
  const stream = await sdk.chat.send({ chatRequest: { model, messages, stream: true } });
  let text = "";
  let id;
  for await (const chunk of stream) {
    id ??= chunk.id;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert(text.length > 0, "no streamed content");
  const gen = await sdk.generations.getGeneration({ id });
  assert(gen.data.streamed === true, `streamed ${gen.data.streamed}`);
  await expectCharged(before, gen.data.tokensPrompt, gen.data.tokensCompletion);
});

await check("sdk chat.send on a spent key is 403 Key limit exceeded", async () => {
  const spent = new OpenRouter({ serverURL: apiURL, apiKey: limitedKey });
  try {
    await spent.chat.send({ chatRequest: { model, messages } });
  } catch (e) {
    assert(e.statusCode === 403, `status ${e.statusCode}`);
    assert(String(e.message).includes("Key limit exceeded"), `message ${e.message}`);
    return;
  }
  throw new Error("the call succeeded");
});

const openai = new OpenAI({ baseURL: apiURL, apiKey: userKey, maxRetries: 0 });

await check("openai chat.completions.create charges the reported usage", async () => {
  const before = await usageMicros();
  const res = await openai.chat.completions.create({ model, messages });
  assert(res.choices[0].message.content, "no content");
  await expectCharged(before, res.usage.prompt_tokens, res.usage.completion_tokens);
});

await check("openai streaming chat with include_usage gets the usage chunk", async () => {
  const before = await usageMicros();
  const stream = await openai.chat.completions.create({
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert(text.length > 0, "no streamed content");
  assert(usage, "no usage chunk");
  await expectCharged(before, usage.prompt_tokens, usage.completion_tokens);
});

await check("openai streaming chat without include_usage gets no usage chunk", async () => {
  const stream = await openai.chat.completions.create({ model, messages, stream: true });
  for await (const chunk of stream) {
    assert(!chunk.usage, `a usage chunk reached a client that did not ask: ${JSON.stringify(chunk.usage)}`);
  }
});

await check("openai embeddings.create charges the prompt tokens", async () => {
  const before = await usageMicros();
  const res = await openai.embeddings.create({ model: embedModel, input: "keygate meters embeddings" });
  assert(res.data[0].embedding.length > 0, "no embedding");
  const after = await usageMicros();
  const want = Math.ceil((res.usage.prompt_tokens * Math.round(promptPrice * 100)) / 100);
  assert(after - before === want, `usage grew by ${after - before} µ$, want ${want}`);
});

const provider = createOpenRouter({ baseURL: apiURL, apiKey: userKey });

await check("ai generateText through @openrouter/ai-sdk-provider", async () => {
  const before = await usageMicros();
  const res = await generateText({ model: provider.chat(model), prompt: "Say hello.", maxRetries: 0 });
  assert(res.text.length > 0, "no text");
  await expectCharged(before, res.usage.inputTokens, res.usage.outputTokens);
});

await check("ai streamText through @openrouter/ai-sdk-provider", async () => {
  const before = await usageMicros();
  // OpenRouter's usage accounting asks for the usage chunk, which keygate
  // forwards only to clients that ask.
  const res = streamText({ model: provider.chat(model, { usage: { include: true } }), prompt: "Say hello.", maxRetries: 0 });
  let text = "";
  for await (const part of res.textStream) text += part;
  assert(text.length > 0, "no text");
  const usage = await res.usage;
  await expectCharged(before, usage.inputTokens, usage.outputTokens);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
