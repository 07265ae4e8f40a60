import { useState } from 'preact/hooks';
import { ApiError, api, errorText } from '../api.js';
import type { Session } from '../types.js';

/**
 * The admin key is sent once, exchanged for an HttpOnly session cookie, and dropped: it is never
 * written to localStorage, sessionStorage or a readable cookie. A wrong key says so and keeps the
 * form open.
 */
export function SignIn(props: { onSignedIn: (session: Session) => void; expired: boolean }) {
  const [key, setKey] = useState('');
  const [remember, setRemember] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api<Session>('POST', '/auth/session', {
        body: { key, remember },
        quiet401: true,
        // Too many wrong keys: say so and let the person decide, never resend a key by itself.
        retryRateLimited: false,
      });
      setKey('');
      props.onSignedIn(session);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401
          ? 'Wrong admin key. Check API_KEY and try again.'
          : errorText(e),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} aria-describedby="signin-help">
        <h1>Cost Guardian</h1>
        <p id="signin-help" class="muted">
          {props.expired ? 'Your session ended. ' : ''}Sign in with the admin key (the server's API_KEY).
        </p>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          type="password"
          autocomplete="current-password"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : 'false'}
          aria-describedby={error ? 'signin-error' : undefined}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={remember}
            onChange={(e) => setRemember((e.target as HTMLInputElement).checked)}
          />
          Remember me on this device for 30 days
        </label>
        {error ? (
          <p id="signin-error" role="alert" class="error-text">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy || key === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
