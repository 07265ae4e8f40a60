import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * JSON-schema validators. Bodies are validated strictly: "7" is not a number and 1.9 is not an
 * integer (the original coerced both). Query strings and path parameters arrive as text, so they
 * are coerced to the declared types.
 */
function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: true, ...options });
  // ajv-formats ships CommonJS with a default export; under ESM interop it may arrive wrapped.
  const plugin = ((addFormats as unknown as { default?: unknown }).default ?? addFormats) as (
    ajv: Ajv,
  ) => Ajv;
  plugin(ajv);
  return ajv;
}

export const bodyAjv = createAjv({ coerceTypes: false, removeAdditional: false });
export const textAjv = createAjv({ coerceTypes: true, removeAdditional: false });

/** `prompt_tokens must be integer`: the field path, without JSON-pointer noise. */
export function describeValidationError(error: ErrorObject, prefix = ''): string {
  const field = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty?: string }).missingProperty ?? '';
    return `${prefix}${field ? `${field}.` : ''}${missing} is required`;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: string }).additionalProperty ?? '';
    return `${prefix}${field ? `${field}.` : ''}${extra} is not a known field`;
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    return `${prefix}${field || 'value'} must be one of: ${allowed.join(', ')}`;
  }
  if (error.keyword === 'anyOf' || error.keyword === 'oneOf') {
    return `${prefix}${field || 'value'} has the wrong type`;
  }
  return `${prefix}${field || 'body'} ${error.message ?? 'is invalid'}`;
}

/**
 * One message per failing field: the branches of a failed anyOf are dropped in favour of the anyOf
 * error itself, so a client reads "event_id has the wrong type", not three half-reasons.
 */
export function describeValidationErrors(errors: readonly ErrorObject[]): string {
  const unions = new Set(
    errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath),
  );
  const kept = errors.filter(
    (e) => e.keyword === 'anyOf' || e.keyword === 'oneOf' || !unions.has(e.instancePath),
  );
  return [...new Set(kept.map((e) => describeValidationError(e)))].join('; ');
}

export function compileBody<T>(schema: object): ValidateFunction<T> {
  return bodyAjv.compile<T>(schema);
}
