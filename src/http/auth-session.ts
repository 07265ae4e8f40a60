/// <reference types="@fastify/cookie" />
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { AppError } from '../errors.js';
import { formatIsoTime } from '../lib/time.js';
import type { AdminSession } from '../storage/store.js';
import type { HttpDeps } from './deps.js';
import {
  BROWSER_SESSION_MS,
  csrfTokenFor,
  csrfTokenMatches,
  hashSessionId,
  newSessionId,
  REMEMBERED_SESSION_MS,
  SESSION_COOKIE,
} from './hooks/session-cookie.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { OkBody, responses } from './schemas.js';

export const SessionState = Type.Object({
  required: Type.Boolean({ description: 'false in development without API_KEY: no sign-in needed.' }),
  signed_in: Type.Boolean(),
  remember: Type.Union([Type.Boolean(), Type.Null()]),
  expires_at: Type.Union([Type.String(), Type.Null()], {
    description: 'ISO-8601 UTC; null if not signed in.',
  }),
  csrf_token: Type.Union([Type.String(), Type.Null()], {
    description: 'Send as X-CSRF-Token on every state-changing request made with the session cookie.',
  }),
});
export type SessionStateBody = Static<typeof SessionState>;

export const SignInBody = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 1000, description: 'The admin key (API_KEY).' }),
  remember: Type.Boolean({
    default: false,
    description: 'true: a persistent cookie (30 days); false: a browser-session cookie.',
  }),
});

const SIGNED_OUT: SessionStateBody = {
  required: true,
  signed_in: false,
  remember: null,
  expires_at: null,
  csrf_token: null,
};

function stateOf(sessionId: string, session: AdminSession): SessionStateBody {
  return {
    required: true,
    signed_in: true,
    remember: session.remember,
    expires_at: formatIsoTime(session.expiresAt),
    csrf_token: csrfTokenFor(sessionId),
  };
}

/**
 * Dashboard sign-in: the admin key is exchanged for an HttpOnly, SameSite=Strict session cookie
 * (Secure when the request came over TLS, X-Forwarded-Proto counting behind TRUST_PROXY), so the
 * key never stays in the browser. Sessions live in the store so that sign-out revokes them.
 */
export function authSessionRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  const required = deps.config.apiKey !== undefined;

  async function currentSession(request: FastifyRequest) {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (!sessionId) return undefined;
    const session = await deps.store.findSession(hashSessionId(sessionId), deps.clock.now());
    return session ? { sessionId, session } : undefined;
  }

  function clearCookie(request: FastifyRequest, reply: FastifyReply) {
    reply.clearCookie(SESSION_COOKIE, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
    });
  }

  return async (app) => {
    app.get(
      '/auth/session',
      {
        config: { auth: 'public' },
        schema: {
          summary: 'Whether the dashboard needs a sign-in and whether this browser is signed in',
          tags: ['dashboard'],
          response: responses({ 200: SessionState }),
        },
      },
      async (request) => {
        if (!required) return { ...SIGNED_OUT, required: false, signed_in: true };
        const current = await currentSession(request);
        return current ? stateOf(current.sessionId, current.session) : SIGNED_OUT;
      },
    );

    app.post(
      '/auth/session',
      {
        config: { auth: 'public' },
        schema: {
          summary: 'Sign in with the admin key; sets the session cookie',
          tags: ['dashboard'],
          body: withExamples(SignInBody, EXAMPLES.signIn),
          response: responses({ 201: SessionState }),
        },
      },
      async (request, reply) => {
        if (!required) throw new AppError('invalid_request', 'Sign-in is not needed: API_KEY is not set');
        await deps.authenticate.verifyAdminKey(request, request.body.key);
        const remember = request.body.remember;
        const now = deps.clock.now();
        const ttlMs = remember ? REMEMBERED_SESSION_MS : BROWSER_SESSION_MS;
        const sessionId = newSessionId();
        const session = {
          idHash: hashSessionId(sessionId),
          createdAt: now,
          expiresAt: now + ttlMs,
          remember,
        };
        await deps.store.createSession(session);
        reply.setCookie(SESSION_COOKIE, sessionId, {
          path: '/',
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          ...(remember ? { maxAge: Math.floor(ttlMs / 1000) } : {}),
        });
        return reply.status(201).send(stateOf(sessionId, session));
      },
    );

    app.delete(
      '/auth/session',
      {
        config: { auth: 'public' },
        schema: {
          summary: 'Sign out: ends the session on the server and clears the cookie',
          tags: ['dashboard'],
          response: responses({ 200: OkBody }),
        },
      },
      async (request, reply) => {
        const current = await currentSession(request);
        if (current) {
          if (!csrfTokenMatches(request.headers['x-csrf-token'], current.sessionId)) {
            throw new AppError('forbidden', 'Missing or invalid X-CSRF-Token');
          }
          await deps.store.deleteSession(current.session.idHash);
        }
        clearCookie(request, reply);
        return { ok: true as const };
      },
    );
  };
}
