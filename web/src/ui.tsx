// Small shared building blocks of the screens.
import type { ReactNode } from 'react';

/**
 * A scrolling box that keyboard users can focus (and so scroll with the arrow keys), named for
 * screen readers.
 */
export function Scroll({ label, children }: { label: string; children: ReactNode }): React.JSX.Element {
  return (
    <div className="scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

/** An error sentence in an alert (nothing when there is none). */
export function ErrorText({ message }: { message: string | undefined }): React.JSX.Element | null {
  if (!message) return null;
  return (
    <p role="alert" className="error">
      {message}
    </p>
  );
}

/** The one row of an empty table body. */
export function EmptyRow({ colSpan, text }: { colSpan: number; text: string }): React.JSX.Element {
  return (
    <tr>
      <td colSpan={colSpan} className="muted">
        {text}
      </td>
    </tr>
  );
}
