import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

/** A native modal <dialog>: focus is trapped and Escape closes it, by the browser. */
export function Modal(props: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onClose} class="modal">
      {props.open ? (
        <>
          <header class="modal-head">
            <h2 id={titleId}>{props.title}</h2>
            <button type="button" class="icon-button" aria-label="Close" onClick={props.onClose}>
              ×
            </button>
          </header>
          {props.children}
        </>
      ) : null}
    </dialog>
  );
}
