/**
 * Ready-to-paste client snippets for one tracking token. Pure functions of (base URL, token), so the
 * test suite runs exactly what the page shows (test/snippets.test.ts). Every snippet sends the
 * provider's response id as event_id, so a retried report is stored once, and sends the SDK's raw
 * usage object, which the server reads for cached, reasoning and audio tokens. Failures are logged,
 * never swallowed and never raised into the caller's code.
 */
export interface SnippetInput {
  /** The service's origin, e.g. https://costs.example.com */
  baseUrl: string;
  token: string;
}

export type SnippetLanguage = 'curl' | 'python' | 'typescript';

export const SNIPPET_LANGUAGES: { id: SnippetLanguage; label: string }[] = [
  { id: 'curl', label: 'cURL' },
  { id: 'python', label: 'Python (openai SDK)' },
  { id: 'typescript', label: 'TypeScript (openai SDK)' },
];

/** Values are embedded in string literals; tokens and origins never need escaping, but be sure. */
function literal(value: string): string {
  return JSON.stringify(value);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function curlSnippet({ baseUrl, token }: SnippetInput): string {
  const body = JSON.stringify({
    tracking_token: token,
    event_id: 'chatcmpl-123',
    model: 'gpt-4o-mini',
    prompt_tokens: 100,
    completion_tokens: 50,
  });
  return `# The ingest key is the server's INGEST_KEY; event_id is the provider's response id.
curl -sS -X POST ${shellQuote(`${baseUrl}/ingest`)} \\
  -H 'Content-Type: application/json' \\
  -H "X-Ingest-Key: $CG_INGEST_KEY" \\
  -d ${shellQuote(body)}
`;
}

export function pythonSnippet({ baseUrl, token }: SnippetInput): string {
  return `# pip install openai
import json
import logging
import os
import urllib.request

from openai import OpenAI

COST_GUARDIAN_URL = ${literal(`${baseUrl}/ingest`)}
TRACKING_TOKEN = ${literal(token)}
INGEST_KEY = os.environ.get("CG_INGEST_KEY", "")  # the server's INGEST_KEY


def report_usage(response):
    """Send the usage of one OpenAI response to Cost Guardian. Logs failures, never raises."""
    usage = getattr(response, "usage", None)
    if usage is None:
        # A stream has usage only with stream_options={"include_usage": True}, in its last chunk.
        logging.warning("cost-guardian: response %s has no usage", getattr(response, "id", "?"))
        return
    record = {
        "tracking_token": TRACKING_TOKEN,
        "event_id": response.id,  # a retried report of the same response is stored once
        "model": response.model,
        "usage": usage.model_dump(exclude_none=True),  # an SDK object, not a dict
    }
    if getattr(response, "service_tier", None):
        record["service_tier"] = response.service_tier
    request = urllib.request.Request(
        COST_GUARDIAN_URL,
        data=json.dumps(record).encode(),
        headers={"Content-Type": "application/json", "X-Ingest-Key": INGEST_KEY},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()
    except Exception as error:  # cost tracking must never break the app
        logging.warning("cost-guardian: usage not recorded: %s", error)


# Streaming (stream=True): add stream_options={"include_usage": True}, then report_usage(chunk)
# for the last chunk, the only one with usage.
client = OpenAI()  # reads OPENAI_API_KEY
response = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Say hello"}],
)
report_usage(response)
print(response.choices[0].message.content)
`;
}

export function typescriptSnippet({ baseUrl, token }: SnippetInput): string {
  return `// npm install openai
import OpenAI from 'openai';

const COST_GUARDIAN_URL = ${literal(`${baseUrl}/ingest`)};
const TRACKING_TOKEN = ${literal(token)};
const INGEST_KEY = process.env.CG_INGEST_KEY ?? ''; // the server's INGEST_KEY

/** Send the usage of one OpenAI response to Cost Guardian. Logs failures, never throws. */
export async function reportUsage(response: {
  id: string;
  model: string;
  usage?: object | null;
  service_tier?: string | null;
}): Promise<void> {
  if (!response.usage) {
    // A stream has usage only with stream_options: { include_usage: true }, in its last chunk.
    console.warn(\`cost-guardian: response \${response.id} has no usage\`);
    return;
  }
  try {
    const answer = await fetch(COST_GUARDIAN_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Ingest-Key': INGEST_KEY },
      body: JSON.stringify({
        tracking_token: TRACKING_TOKEN,
        event_id: response.id, // a retried report of the same response is stored once
        model: response.model,
        usage: response.usage,
        ...(response.service_tier ? { service_tier: response.service_tier } : {}),
      }),
      signal: AbortSignal.timeout(5000),
    });
    if (!answer.ok) console.warn(\`cost-guardian: usage not recorded: \${answer.status} \${await answer.text()}\`);
  } catch (error) {
    console.warn('cost-guardian: usage not recorded:', error);
  }
}

// Streaming (stream: true): add stream_options: { include_usage: true }, then reportUsage(chunk)
// for the last chunk, the only one with usage.
const client = new OpenAI(); // reads OPENAI_API_KEY
const response = await client.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello' }],
});
await reportUsage(response);
console.log(response.choices[0]?.message.content);
`;
}

export function snippetFor(language: SnippetLanguage, input: SnippetInput): string {
  if (language === 'curl') return curlSnippet(input);
  if (language === 'python') return pythonSnippet(input);
  return typescriptSnippet(input);
}
