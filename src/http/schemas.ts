import { type TSchema, Type } from 'typebox';
/** The one error body, compatible with the original's `{"status":"error","message","requestId"}`. */
export const ErrorBody = Type.Object(
  {
    status: Type.Literal('error'),
    code: Type.String({ description: 'Stable machine-readable code; see docs/errors.md.' }),
    message: Type.String(),
    requestId: Type.String(),
  },
  { $id: 'ErrorBody', description: 'Every error response has this shape.' },
);

const ERROR_STATUSES = [400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503] as const;

/** Response schemas for a route: its success bodies plus the error body for every error status. */
export function responses<T extends Record<number, TSchema>>(success: T): T & Record<number, TSchema> {
  const errors: Record<number, TSchema> = {};
  for (const status of ERROR_STATUSES) errors[status] = Type.Ref('ErrorBody');
  return { ...errors, ...success };
}

export const OkBody = Type.Object({ ok: Type.Literal(true) });

export const IdParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Numeric id.' }),
});

export const GroupCostUsd = (description = 'Spend of the priced requests.') =>
  Type.Union([Type.Number(), Type.Null()], {
    description: `${description} null when there are requests and none of them is priced (never 0 for unpriced usage).`,
  });
