import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, errorText, setCsrfToken, setUnauthorizedHandler } from './api.js';
import { useLiveTick, useNotices, useRateLimitCountdown, useResource } from './hooks.js';
import { navigate, type Route, useRoute, type View } from './route.js';
import { applyTheme, nextTheme, storedTheme, type Theme } from './theme.js';
import type { Session, TagKeys, Token } from './types.js';
import { BudgetsView } from './views/budgets.js';
import { Filters } from './views/filters.js';
import { Overview } from './views/overview.js';
import { IngestRefusalsBanner, useIngestRefusals } from './views/refusals.js';
import { ReportsView } from './views/reports.js';
import { SignIn } from './views/sign-in.js';
import { TokensView } from './views/tokens.js';
import { UsageView } from './views/usage.js';

const VIEWS: { id: View; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'usage', label: 'Usage' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'budgets', label: 'Budgets' },
  { id: 'reports', label: 'Provider reports' },
];

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [expired, setExpired] = useState(false);

  const load = useCallback(() => {
    setLoadError(null);
    api<Session>('GET', '/auth/session', { quiet401: true }).then(
      (s) => {
        setCsrfToken(s.csrf_token);
        setSession(s);
      },
      (error: unknown) => setLoadError(error),
    );
  }, []);

  useEffect(() => {
    load();
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setExpired(true);
      setSession((s) => (s ? { ...s, signed_in: false, csrf_token: null } : s));
    });
  }, [load]);

  if (loadError) {
    return (
      <main class="signin" id="main">
        <div class="card signin-card" role="alert">
          <h1>Cost Guardian</h1>
          <p>The service did not answer: {errorText(loadError)}</p>
          <button type="button" class="primary" onClick={load}>
            Try again
          </button>
        </div>
      </main>
    );
  }
  if (!session)
    return (
      <p class="muted center" aria-busy="true">
        Loading…
      </p>
    );
  if (session.required && !session.signed_in) {
    return (
      <SignIn
        expired={expired}
        onSignedIn={(s) => {
          setCsrfToken(s.csrf_token);
          setExpired(false);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Dashboard
      session={session}
      onSignedOut={() => {
        setCsrfToken(null);
        setSession({ ...session, signed_in: false, csrf_token: null });
      }}
    />
  );
}

function Dashboard(props: { session: Session; onSignedOut: () => void }) {
  const route = useRoute();
  const [theme, setTheme] = useState<Theme>(storedTheme());
  // Refused ingest records are warned of on every view: lost usage matters whatever is on screen.
  const { refusals, refresh: refreshRefusals } = useIngestRefusals();
  const { tick, connected } = useLiveTick(true, refreshRefusals);
  const [tokensVersion, setTokensVersion] = useState(0);
  // The token and model lists change rarely: re-read them on a view change, after a token change,
  // and on live updates only where they are the content (tokens) or every sixth update (models),
  // so that an open dashboard stays well inside the admin rate limit.
  const tokensTick = route.view === 'tokens' ? tick : 0;
  const tokens = useResource(`tokens:${tokensVersion}:${route.view}:${tokensTick}`, (signal) =>
    api<{ tokens: Token[] }>('GET', '/ingest/tokens', { signal }).then((r) => r.tokens),
  );
  // The tokens view shows neither filters nor a chart: it asks for neither list.
  const filtered = route.view !== 'tokens';
  const models = useResource(`models:${route.view}:${Math.floor(tick / 6)}`, (signal) =>
    filtered
      ? api<{ models: string[] }>('GET', '/models', { signal }).then((r) => r.models)
      : Promise.resolve(undefined),
  );
  const tags = useResource(`tags:${route.view}:${Math.floor(tick / 6)}`, (signal) =>
    filtered
      ? api<{ keys: TagKeys }>('GET', '/usage/tags', { signal }).then((r) => r.keys)
      : Promise.resolve(undefined),
  );
  const retryInSeconds = useRateLimitCountdown();
  const notices = useNotices();

  useEffect(() => applyTheme(theme), [theme]);
  useEffect(() => {
    const label = VIEWS.find((v) => v.id === route.view)?.label ?? '';
    document.title = `${label} · Cost Guardian`;
  }, [route.view]);

  const signOut = async () => {
    try {
      await api('DELETE', '/auth/session');
    } finally {
      props.onSignedOut();
    }
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <div class="brand">Cost Guardian</div>
        <nav aria-label="Views" class="views">
          {VIEWS.map((v) => (
            <a
              key={v.id}
              href={`?view=${v.id}`}
              aria-current={route.view === v.id ? 'page' : undefined}
              onClick={(e) => {
                if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                e.preventDefault();
                navigate({ view: v.id });
              }}
            >
              {v.label}
            </a>
          ))}
        </nav>
        <div class="topbar-right">
          <span
            class={`live ${connected ? 'on' : 'off'}`}
            title={
              connected ? 'New usage appears without reload' : 'Live updates are off; reload to see new usage'
            }
          >
            <span aria-hidden="true">●</span> {connected ? 'Live' : 'Offline'}
          </span>
          <button
            type="button"
            class="icon-button"
            onClick={() => setTheme(nextTheme(theme))}
            aria-label={`Theme: ${theme}. Switch theme`}
            title={`Theme: ${theme}`}
          >
            {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'}
          </button>
          {props.session.required ? (
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          ) : (
            <span class="badge warn" title="API_KEY is not set: the admin API is open on this machine">
              Dev mode
            </span>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <h1 class="visually-hidden">{VIEWS.find((v) => v.id === route.view)?.label}</h1>
        {retryInSeconds !== null ? (
          <p class="banner warn" role="status">
            Rate limited, retrying in {retryInSeconds} s
          </p>
        ) : null}
        <IngestRefusalsBanner refusals={refusals} />
        {route.view !== 'tokens' && route.view !== 'budgets' && route.view !== 'reports' ? (
          <Filters
            route={route}
            models={models.data ?? []}
            tokens={tokens.data ?? []}
            tags={tags.data ?? []}
          />
        ) : null}
        <ViewBody
          route={route}
          tick={tick}
          theme={theme}
          tagKeys={tags.data ?? []}
          tokens={tokens.data}
          tokensError={tokens.error}
          reloadTokens={() => setTokensVersion((v) => v + 1)}
        />
      </main>
      <div class="notices" role="status" aria-live="polite">
        {notices.map((n) => (
          <p key={n.id} class={`notice ${n.kind}`}>
            {n.text}
          </p>
        ))}
      </div>
    </>
  );
}

function ViewBody(props: {
  route: Route;
  tick: number;
  theme: Theme;
  tagKeys: TagKeys;
  tokens: Token[] | undefined;
  tokensError: unknown;
  reloadTokens: () => void;
}) {
  if (props.route.view === 'usage') return <UsageView route={props.route} tick={props.tick} />;
  if (props.route.view === 'budgets')
    return <BudgetsView tick={props.tick} theme={props.theme} tokens={props.tokens ?? []} />;
  if (props.route.view === 'reports') return <ReportsView tick={props.tick} />;
  if (props.route.view === 'tokens')
    return <TokensView tokens={props.tokens} error={props.tokensError} reload={props.reloadTokens} />;
  return <Overview route={props.route} tick={props.tick} theme={props.theme} tagKeys={props.tagKeys} />;
}
