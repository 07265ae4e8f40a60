import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { Store, TokenRecord } from '../storage/store.js';

/** A URL-safe random token of exactly `length` characters (TRACKING_TOKEN_LENGTH counts characters). */
export function generateTrackingToken(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4) + 1)
    .toString('base64url')
    .slice(0, length);
}

/** The token's own first and last four characters, for display (no prefix: tokens have none). */
export function maskToken(token: string): string {
  return `${token.slice(0, 4)}…${token.slice(-4)}`;
}

export async function createTrackingToken(
  deps: { store: Store; clock: Clock; tokenLength: number },
  rawLabel: string,
): Promise<TokenRecord> {
  const label = rawLabel.trim();
  if (label.length < 1 || label.length > 64)
    throw new AppError('invalid_request', 'Label must be 1-64 characters');
  // A collision of 16+ random characters is practically impossible; retry a few times anyway.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const result = await deps.store.createToken({
      label,
      token: generateTrackingToken(deps.tokenLength),
      createdAt: deps.clock.now(),
    });
    if (result.status === 'created') return result.token;
    if (result.status === 'label_taken') throw new AppError('conflict', `Label '${label}' already exists`);
  }
  throw new AppError('internal', 'could not generate a unique token');
}
