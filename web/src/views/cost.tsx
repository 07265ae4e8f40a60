import { formatInt, formatUsd, formatUsdExact } from '../format.js';

/**
 * The spend of a group of usage: its priced cost, and its unpriced requests beside it. A group
 * whose usage is all unpriced (the API answers cost_usd null) reads "unpriced" with its count,
 * never $0.00 (issue 17.2).
 */
export function Cost(props: { usd: number | null; unpriced: number; exact?: boolean }) {
  const format = props.exact ? formatUsdExact : formatUsd;
  const badge =
    props.unpriced > 0 ? (
      <span class="badge warn" title="Requests whose model has no known price: not in the cost">
        {props.usd === null ? '' : '+'}
        {formatInt(props.unpriced)} unpriced
      </span>
    ) : null;
  if (props.usd === null) return badge ?? <span class="muted">—</span>;
  // One element, so that a phone card's flex cell keeps the cost and its count together.
  return (
    <span class="cost">
      <span title={props.exact ? undefined : formatUsdExact(props.usd)}>{format(props.usd)}</span>
      {badge}
    </span>
  );
}

/** The same, as plain text (chart labels, aria-labels). */
export function costText(usd: number | null, unpriced: number): string {
  const unpricedText = `${formatInt(unpriced)} unpriced`;
  if (usd === null) return unpriced > 0 ? unpricedText : '—';
  return unpriced > 0 ? `${formatUsd(usd)} + ${unpricedText}` : formatUsd(usd);
}
