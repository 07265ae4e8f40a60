/**
 * Ready-to-paste client snippets for one tracking token. Pure functions of (base URL, token), so the
 * test suite runs exactly what the page shows (test/snippets.test.ts). Python and TypeScript use the
 * one-line wrappers (clients/python, packages/client), which send the provider's response id as
 * event_id and its raw usage object, in the background, never raising into the caller's code; cURL
 * shows the raw HTTP call for every other language.
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
# A streamed chat completion carries usage only when asked: send stream_options
# {"include_usage": true} to the provider and report the last chunk's usage.
curl -sS -X POST ${shellQuote(`${baseUrl}/ingest`)} \\
  -H 'Content-Type: application/json' \\
  -H "X-Ingest-Key: $CG_INGEST_KEY" \\
  -d ${shellQuote(body)}
`;
}

export function pythonSnippet({ baseUrl, token }: SnippetInput): string {
  return `# pip install openai cost-guardian   (cost-guardian: clients/python in the Cost Guardian repository)
import os

from cost_guardian import wrap_openai
from openai import OpenAI

TRACKING_TOKEN = ${literal(token)}

# Every call through this client is tracked: sent in the background, retried if Cost Guardian is
# down, flushed when the program exits. The ingest key is the server's INGEST_KEY.
client = wrap_openai(
    OpenAI(),  # reads OPENAI_API_KEY
    tracking_token=TRACKING_TOKEN,
    endpoint=${literal(baseUrl)},
    ingest_key=os.environ.get("CG_INGEST_KEY", ""),
)

response = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Say hello"}],
)
print(response.choices[0].message.content)
`;
}

export function typescriptSnippet({ baseUrl, token }: SnippetInput): string {
  return `// npm install openai @cost-guardian/client   (the client: packages/client in the Cost Guardian repository)
import OpenAI from 'openai';
import { wrapOpenAI } from '@cost-guardian/client';

// Every call through this client is tracked: sent in the background, retried if Cost Guardian is
// down, flushed when the process exits. The ingest key is the server's INGEST_KEY.
const openai = wrapOpenAI(new OpenAI(), {
  trackingToken: ${literal(token)},
  endpoint: ${literal(baseUrl)},
  ingestKey: process.env.CG_INGEST_KEY ?? '',
});

const response = await openai.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello' }],
});
console.log(response.choices[0]?.message.content);
`;
}

export function snippetFor(language: SnippetLanguage, input: SnippetInput): string {
  if (language === 'curl') return curlSnippet(input);
  if (language === 'python') return pythonSnippet(input);
  return typescriptSnippet(input);
}
