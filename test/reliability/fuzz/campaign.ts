import fc from 'fast-check';
import { ERROR_STATUS } from '../../../src/errors.js';
import { anyRequest, describe, type RequestSpec, tagsOf, toWire, wellFormedRequestFor } from './inputs.js';
import type { Route } from './routes.js';
import type { FuzzTarget, WireRequest, WireResponse } from './target.js';

/** A fault held while one request is answered: another process's write lock, or a full disk. */
export type Fault = 'write-lock' | 'disk-full';

/** One kind of wrong answer, with the first request that showed it and the smallest one found. */
export interface Finding {
  /** Route aimed at, status and error: two findings with one signature are the same defect. */
  signature: string;
  problem: string;
  example: RequestSpec;
  minimal?: RequestSpec;
  count: number;
  /** What the service logged at error level for that request. */
  serverErrors: string[];
}

export interface CampaignOptions {
  /** A request not answered in this time is a finding (the service hangs). */
  timeoutMs: number;
  /** The service's RSS above this is a finding. */
  rssLimitBytes: number;
  fault?: Fault;
  /**
   * Runs just before each request is sent and returns what to do once it is answered. For the
   * harness's own tests: a commit made here stands in for a refused request that stored something.
   */
  interfere?: (target: FuzzTarget) => () => void;
}

const STATUS_OF: Record<string, number> = ERROR_STATUS;

/** Node's default --max-http-header-size, which counts the request line and every header. */
const NODE_MAX_HEAD_BYTES = 16 * 1024;
/** The service's default BODY_LIMIT_BYTES, which the target does not change. */
const BODY_LIMIT_BYTES = 1024 * 1024;

function headBytes(wire: WireRequest): number {
  const headers = Object.entries(wire.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  return wire.method.length + wire.path.length + headers + 64;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** What is wrong with the error body of a >= 400 answer, or undefined when it has the one shape. */
function shapeProblem(status: number, headers: Record<string, unknown>, body: Buffer): string | undefined {
  const parsed = parseJson(body) as Record<string, unknown> | undefined;
  if (!parsed || typeof parsed !== 'object')
    return `not JSON: ${JSON.stringify(body.toString('utf8').slice(0, 120))}`;
  const { status: word, code, message, requestId } = parsed;
  if (
    word !== 'error' ||
    typeof code !== 'string' ||
    typeof message !== 'string' ||
    typeof requestId !== 'string'
  ) {
    return `not the error shape: ${JSON.stringify(parsed).slice(0, 160)}`;
  }
  if (STATUS_OF[code] !== status)
    return `code ${code} with HTTP ${status} (errors.ts maps it to ${STATUS_OF[code]})`;
  if (headers['x-request-id'] !== requestId) return `requestId ${requestId} is not the X-Request-Id header`;
  return undefined;
}

/** A 5xx the service documents: 503 in the error shape with Retry-After, or /health's own 503. */
function isDocumented503(path: string, response: Extract<WireResponse, { answered: true }>): boolean {
  if (response.status !== 503) return false;
  const body = parseJson(response.body) as Record<string, unknown> | undefined;
  if (path.split('?')[0] === '/health') return body?.status === 'unhealthy';
  return (
    shapeProblem(503, response.headers, response.body) === undefined &&
    response.headers['retry-after'] !== undefined
  );
}

/** The first error line the service logged for a request, as `Type: message`, digits folded. */
function errorSummary(lines: string[]): string {
  for (const line of lines) {
    const parsed = parseJson(Buffer.from(line)) as
      | { err?: { type?: string; message?: string }; msg?: string }
      | undefined;
    const err = parsed?.err;
    if (err)
      return `${err.type ?? 'Error'}: ${(err.message ?? '').split('\n')[0]?.slice(0, 100)}`.replace(
        /\d+/g,
        'N',
      );
  }
  return '';
}

/**
 * What is wrong with an answer, judged on its own: a 5xx that is not a documented 503, or an
 * error (>= 400, not HEAD) outside the one error shape. `serverError` describes the service's log
 * line for it. The signature names the defect, so that many requests showing it count once.
 */
export function judgeAnswer(
  route: string,
  wire: WireRequest,
  response: Extract<WireResponse, { answered: true }>,
  serverError = '',
): { problem: string; signature: string } | undefined {
  const { status } = response;
  if (isDocumented503(wire.path, response)) return undefined;
  if (status >= 500) {
    const body = parseJson(response.body) as { code?: string } | undefined;
    const code = body?.code ? ` ${body.code}` : '';
    const why = status === 503 ? ' without Retry-After or the error shape' : '';
    return {
      problem: `HTTP ${status}${code}${why}${serverError ? ` (${serverError})` : ''}`,
      signature: `${route} → ${status}${code} ${serverError}`.trim(),
    };
  }
  if (status >= 400 && wire.method !== 'HEAD') {
    const wrong = shapeProblem(status, response.headers, response.body);
    // One defect whatever the route: the same foreign body (quoted paths and numbers folded).
    if (wrong) {
      return {
        problem: `HTTP ${status} ${wrong}`,
        signature: `${status} not in the error shape: ${wrong
          .replace(/'[^']*'/g, "'…'")
          .replace(/\d+/g, 'N')
          .slice(0, 90)}`,
      };
    }
  }
  return undefined;
}

/**
 * Sends generated requests to the service one at a time and judges each answer: below 500 unless
 * it is a documented 503; the error shape on every error; refused input leaves every table as it
 * was; an answer at all (within timeoutMs); the process alive and its RSS under the limit. Keeps
 * counts for the summary. A hang or crash restarts the service on a fresh database.
 */
export class Campaign {
  readonly findings = new Map<string, Finding>();
  readonly stats = {
    requests: 0,
    /** Specs the HTTP client itself refused to send (an invalid header); not judged. */
    unsent: 0,
    refused: 0,
    /** Refused requests after which the database had a new commit, so the digest was compared. */
    digestComparisons: 0,
    restarts: 0,
    startRssBytes: 0,
    maxRssBytes: 0,
    byStatus: new Map<string, number>(),
    byTag: new Map<string, number>(),
  };
  private version = -1;
  private digest: Record<string, string> = {};

  constructor(
    private readonly target: FuzzTarget,
    private readonly options: CampaignOptions,
  ) {
    this.stats.startRssBytes = target.rssBytes() ?? 0;
  }

  get fault(): Fault | undefined {
    return this.options.fault;
  }

  private currentDigest(): Record<string, string> {
    const version = this.target.dataVersion();
    if (version !== this.version) {
      this.version = version;
      this.digest = this.target.digest();
    }
    return this.digest;
  }

  private count(map: Map<string, number>, key: string) {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** Sends one request (under the campaign's fault, if any); returns what was wrong with the answer. */
  async exercise(spec: RequestSpec): Promise<Finding | undefined> {
    if (!this.target.isAlive()) await this.restart();
    const before = this.currentDigest();
    const wire = toWire(spec, this.target);
    let release: (() => void) | undefined;
    if (this.options.fault === 'write-lock') release = this.target.holdWriteLock();
    if (this.options.fault === 'disk-full') release = this.target.fillDisk();
    const undo = this.options.interfere?.(this.target);
    let response: WireResponse;
    try {
      response = await this.target.send(wire, this.options.timeoutMs);
      // A kept-alive connection the server closed after its previous answer (as Node does after a
      // request it could not parse) fails the next write: a client retries on a new connection.
      if (!response.answered && /ECONNRESET|socket hang up|EPIPE/.test(response.error)) {
        response = await this.target.send(wire, this.options.timeoutMs, true);
      }
    } finally {
      release?.();
      undo?.();
    }
    if (!response.answered && response.error.startsWith('client refused')) {
      this.stats.unsent += 1;
      return undefined;
    }
    this.stats.requests += 1;
    for (const tag of tagsOf(spec)) this.count(this.stats.byTag, tag);
    this.count(this.stats.byStatus, response.answered ? String(response.status) : 'no answer');

    const rss = this.target.rssBytes() ?? 0;
    this.stats.maxRssBytes = Math.max(this.stats.maxRssBytes, rss);
    let problem: string | undefined;
    let signature = '';
    let serverErrors: string[] = [];
    const oversized = headBytes(wire) > NODE_MAX_HEAD_BYTES || (wire.body?.length ?? 0) > BODY_LIMIT_BYTES;
    if (!response.answered && oversized && (await this.target.answersPing())) {
      // A request over a size limit may see its connection closed while it is still being sent
      // (the answer, 413 or 431, then never reaches a client that is still writing).
    } else if (!response.answered) {
      const died = this.target.exitReport();
      problem = died ?? `no answer: ${response.error}`;
      signature = died ? `${spec.route} → the service died` : `${spec.route} → no answer`;
      if (!(await this.target.answersPing())) await this.restart();
    } else {
      const { status } = response;
      const requestId = String(response.headers['x-request-id'] ?? '');
      if (status >= 500) serverErrors = await this.target.errorsLoggedFor(requestId, 2000);
      const verdict = judgeAnswer(spec.route, wire, response, errorSummary(serverErrors));
      if (verdict) ({ problem, signature } = verdict);
      if (!problem && status >= 400) {
        this.stats.refused += 1;
        if (this.target.dataVersion() !== this.version) {
          this.stats.digestComparisons += 1;
          const after = this.currentDigest();
          const changed = Object.keys({ ...before, ...after }).filter(
            (table) => before[table] !== after[table],
          );
          if (changed.length > 0) {
            problem = `refused with HTTP ${status}, but stored data changed: ${changed.join(', ')}`;
            signature = `${spec.route} → ${status} changed ${changed.join(', ')}`;
          }
        }
      }
      if (!problem && !this.target.isAlive()) {
        problem = this.target.exitReport() ?? 'the service died';
        signature = `${spec.route} → the service died`;
      }
      if (!problem && rss > this.options.rssLimitBytes) {
        problem = `RSS ${Math.round(rss / 2 ** 20)} MiB is over the ${Math.round(this.options.rssLimitBytes / 2 ** 20)} MiB limit`;
        signature = 'RSS over the limit';
      }
    }
    if (!problem) return undefined;
    const known = this.findings.get(signature);
    const finding: Finding = known ?? { signature, problem, example: spec, count: 0, serverErrors };
    finding.count += 1;
    this.findings.set(signature, finding);
    return { ...finding, problem, serverErrors };
  }

  private async restart(): Promise<void> {
    this.stats.restarts += 1;
    await this.target.restart();
    this.version = -1;
  }

  /** Status counts, RSS and findings, as the fuzz script prints them. */
  summary(): string {
    const statuses = [...this.stats.byStatus.entries()].sort(([a], [b]) => a.localeCompare(b));
    const tags = [...this.stats.byTag.entries()].sort(([, a], [, b]) => b - a);
    const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
    const lines = [
      `requests judged: ${this.stats.requests} (${this.stats.unsent} not sendable by the client)`,
      `statuses: ${statuses.map(([s, n]) => `${s}×${n}`).join('  ')}`,
      `refused: ${this.stats.refused}; digest compared after a commit: ${this.stats.digestComparisons}`,
      `service RSS: ${mib(this.stats.startRssBytes)} at start, ${mib(this.stats.maxRssBytes)} at most; restarts after a hang or crash: ${this.stats.restarts}`,
      `hostile inputs used: ${tags.map(([t, n]) => `${t}×${n}`).join('  ')}`,
      `findings: ${this.findings.size}`,
    ];
    for (const finding of this.findings.values()) {
      lines.push('', `● ${finding.problem}  (seen ${finding.count}×)`, `  signature: ${finding.signature}`);
      lines.push(`  ${finding.minimal ? 'smallest request found' : 'first request'}:`);
      lines.push(
        ...describe(finding.minimal ?? finding.example)
          .split('\n')
          .map((l) => `    ${l}`),
      );
      if (finding.serverErrors[0]) lines.push(`  service log: ${finding.serverErrors[0].slice(0, 400)}`);
    }
    return lines.join('\n');
  }
}

/** What to send: hostile requests to any route; under a fault, mostly well-formed writes. */
export function requests(routes: readonly Route[], fault: Fault | undefined): fc.Arbitrary<RequestSpec> {
  if (!fault) return anyRequest(routes);
  const writes = routes.filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method));
  return fc.oneof(
    { arbitrary: fc.oneof(...writes.map(wellFormedRequestFor)), weight: 3 },
    { arbitrary: anyRequest(routes), weight: 1 },
  );
}

/**
 * The property for the test suite: every generated request is answered correctly. fast-check
 * shrinks a failure to a small request and prints it (RequestSpec prints as a request).
 */
export function everyAnswerIsCorrect(campaign: Campaign, routes: readonly Route[]) {
  return fc.asyncProperty(requests(routes, campaign.fault), async (spec) => {
    const finding = await campaign.exercise(spec);
    if (finding) throw new Error(`${finding.problem}\n${finding.serverErrors[0]?.slice(0, 600) ?? ''}`);
  });
}

/**
 * The long run: `count` requests, every distinct finding shrunk to its smallest request. Each
 * fast-check run stops at a new kind of finding and shrinks it (only the same signature counts as
 * failing while it shrinks); the next run goes on with a new seed until `count` requests were sent.
 */
export async function explore(
  campaign: Campaign,
  routes: readonly Route[],
  options: {
    count: number;
    seed: number;
    onProgress?: (sent: number) => void;
    onFinding?: (finding: Finding) => void;
  },
): Promise<void> {
  const arbitrary = requests(routes, campaign.fault);
  const reported = new Set<string>();
  for (let round = 0; campaign.stats.requests < options.count; round += 1) {
    let chasing: string | undefined;
    const property = fc.asyncProperty(arbitrary, async (spec) => {
      const finding = await campaign.exercise(spec);
      if (campaign.stats.requests % 500 === 0) options.onProgress?.(campaign.stats.requests);
      if (!finding || reported.has(finding.signature)) return true;
      if (chasing === undefined) {
        chasing = finding.signature;
        options.onFinding?.(finding);
      }
      return finding.signature !== chasing;
    });
    const result = await fc.check(property, {
      seed: options.seed + round,
      numRuns: Math.max(1, options.count - campaign.stats.requests),
      // Shrinking sends requests too; a few hundred are enough to get a small example.
      maxSkipsPerRun: 100,
    });
    if (!result.failed || !chasing) break;
    reported.add(chasing);
    const finding = campaign.findings.get(chasing);
    const counterexample = result.counterexample?.[0];
    if (finding && counterexample) finding.minimal = counterexample;
  }
}
