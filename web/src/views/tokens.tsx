import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { formatDate, formatDateTime, formatInt, plural } from '../format.js';
import { copyText, notify } from '../hooks.js';
import { SNIPPET_LANGUAGES, type SnippetLanguage, snippetFor } from '../snippets.js';
import type { Token } from '../types.js';
import { Cost } from './cost.js';
import { Modal } from './modal.js';

/** Tracking tokens: listed on first load, created, copied, toggled, deleted after a confirmation. */
export function TokensView(props: { tokens: Token[] | undefined; error: unknown; reload: () => void }) {
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Token | null>(null);
  const [snippetFor, setSnippetFor] = useState<Token | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFormError(null);
    try {
      const created = await api<{ label: string }>('POST', '/ingest/tokens', {
        body: { label: label.trim() },
      });
      notify(`Created token “${created.label}”.`);
      setLabel('');
      props.reload();
    } catch (error) {
      setFormError(errorText(error));
    } finally {
      setBusy(false);
    }
  };

  const toggle = async (token: Token) => {
    try {
      await api('PATCH', `/ingest/tokens/${token.id}/active`, { body: { active: token.active !== 1 } });
      notify(`${token.active === 1 ? 'Deactivated' : 'Activated'} “${token.label}”.`);
      props.reload();
    } catch (error) {
      notify(`Could not change “${token.label}”: ${errorText(error)}`, 'error');
    }
  };

  const remove = async (token: Token) => {
    try {
      await api('DELETE', `/ingest/tokens/${token.id}`);
      notify(`Deleted “${token.label}”. Its usage history is kept.`);
      setDeleting(null);
      props.reload();
    } catch (error) {
      notify(`Could not delete “${token.label}”: ${errorText(error)}`, 'error');
    }
  };

  const copy = async (token: Token) => {
    notify(
      (await copyText(token.token))
        ? `Copied the token of “${token.label}”.`
        : 'Copy failed; select the token and copy it.',
    );
  };

  return (
    <>
      <section class="card">
        <h2>New tracking token</h2>
        <form class="inline-form" onSubmit={create}>
          <label for="token-label">Label</label>
          <input
            id="token-label"
            maxLength={64}
            required
            placeholder="e.g. checkout-service"
            value={label}
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
            aria-describedby={formError ? 'token-error' : undefined}
          />
          <button type="submit" class="primary" disabled={busy || label.trim() === ''}>
            Create token
          </button>
        </form>
        {formError ? (
          <p id="token-error" role="alert" class="error-text">
            {formError}
          </p>
        ) : null}
      </section>
      <section class="card">
        <h2>Tracking tokens</h2>
        {props.error ? (
          <p role="alert" class="error-text">
            Could not load tokens: {errorText(props.error)}
          </p>
        ) : null}
        {props.tokens === undefined ? (
          <p class="muted">Loading tokens…</p>
        ) : props.tokens.length === 0 ? (
          <p class="muted">No tracking tokens yet. Create one above, then paste its snippet into your app.</p>
        ) : (
          <div class="table-wrap">
            <table class="tokens-table">
              <thead>
                <tr>
                  <th scope="col">Label</th>
                  <th scope="col">Token</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                  <th scope="col" class="num">
                    Requests
                  </th>
                  <th scope="col" class="num">
                    Spend
                  </th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {props.tokens.map((token) => (
                  <tr key={token.id} data-token-id={token.id}>
                    <th scope="row" class="label-cell">
                      {token.label}
                      <div class="muted small">Created {formatDate(token.created_at)}</div>
                    </th>
                    <td data-label="Token">
                      <code class="token-value">{token.token_masked}</code>
                      <button
                        type="button"
                        class="link"
                        onClick={() => copy(token)}
                        aria-label={`Copy the token of ${token.label}`}
                      >
                        Copy
                      </button>
                    </td>
                    <td data-label="Status">
                      <span class={`badge ${token.active === 1 ? 'ok' : 'off'}`}>
                        {token.active === 1 ? 'Active' : 'Inactive'}
                      </span>
                    </td>
                    <td data-label="Last seen">{formatDateTime(token.last_seen_at)}</td>
                    <td class="num" data-label="Requests">
                      {formatInt(token.usage_count)}
                    </td>
                    <td class="num" data-label="Spend">
                      <Cost usd={token.cost_usd} unpriced={token.unpriced_count} />
                    </td>
                    <td class="actions-cell">
                      <div class="row-actions">
                        <button
                          type="button"
                          onClick={() => setSnippetFor(token)}
                          aria-label={`Snippet for ${token.label}`}
                        >
                          Snippet
                        </button>
                        <button
                          type="button"
                          onClick={() => toggle(token)}
                          aria-label={`${token.active === 1 ? 'Deactivate' : 'Activate'} ${token.label}`}
                        >
                          {token.active === 1 ? 'Deactivate' : 'Activate'}
                        </button>
                        <button
                          type="button"
                          class="danger"
                          onClick={() => setDeleting(token)}
                          aria-label={`Delete ${token.label}`}
                        >
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <Modal open={deleting !== null} title="Delete tracking token?" onClose={() => setDeleting(null)}>
        {deleting ? (
          <>
            <p>
              Delete <strong class="label-cell">{deleting.label}</strong>? Apps still sending it will be
              refused.{' '}
              {deleting.usage_count === 1
                ? 'Its usage row is'
                : `Its ${plural(deleting.usage_count, 'usage row')} are`}{' '}
              kept.
            </p>
            <div class="modal-actions">
              <button type="button" onClick={() => setDeleting(null)}>
                Cancel
              </button>
              <button type="button" class="danger" onClick={() => remove(deleting)}>
                Delete token
              </button>
            </div>
          </>
        ) : null}
      </Modal>
      <Modal
        open={snippetFor !== null}
        title={snippetFor ? `Send usage with “${snippetFor.label}”` : 'Snippet'}
        onClose={() => setSnippetFor(null)}
      >
        {snippetFor ? <Snippets token={snippetFor.token} /> : null}
      </Modal>
    </>
  );
}

function Snippets(props: { token: string }) {
  const [language, setLanguage] = useState<SnippetLanguage>('python');
  const code = snippetFor(language, { baseUrl: window.location.origin, token: props.token });
  return (
    <div class="snippets">
      <div role="tablist" aria-label="Language" class="tabs">
        {SNIPPET_LANGUAGES.map((l) => (
          <button
            key={l.id}
            type="button"
            role="tab"
            id={`tab-${l.id}`}
            aria-selected={language === l.id}
            aria-controls="snippet-panel"
            onClick={() => setLanguage(l.id)}
            onKeyDown={(e) => {
              const ids = SNIPPET_LANGUAGES.map((x) => x.id);
              const i = ids.indexOf(l.id);
              const next =
                e.key === 'ArrowRight'
                  ? ids[(i + 1) % ids.length]
                  : e.key === 'ArrowLeft'
                    ? ids[(i + ids.length - 1) % ids.length]
                    : undefined;
              if (next) {
                setLanguage(next);
                document.getElementById(`tab-${next}`)?.focus();
              }
            }}
            tabIndex={language === l.id ? 0 : -1}
          >
            {l.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="snippet-panel" aria-labelledby={`tab-${language}`}>
        <p class="muted small">
          Set <code>CG_INGEST_KEY</code> to the server's INGEST_KEY. The OpenAI response id is sent as{' '}
          <code>event_id</code>, so a retried report is stored once.
        </p>
        <label for="snippet-code" class="visually-hidden">
          Snippet code
        </label>
        <textarea
          id="snippet-code"
          class="code"
          readOnly
          rows={18}
          spellcheck={false}
          data-language={language}
          value={code}
        />
        <button
          type="button"
          class="primary"
          onClick={async () =>
            notify((await copyText(code)) ? 'Snippet copied.' : 'Copy failed; select the code and copy it.')
          }
        >
          Copy snippet
        </button>
      </div>
    </div>
  );
}
