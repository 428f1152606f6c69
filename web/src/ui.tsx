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

/**
 * The header row of a `grid` table: one column header per title, right-aligned for the titles in
 * `numeric`, and a last, visually unnamed "Actions" column when `actions` is set.
 */
export function TableHead({
  columns,
  numeric = [],
  actions = false,
}: {
  columns: readonly string[];
  numeric?: readonly string[];
  actions?: boolean;
}): React.JSX.Element {
  return (
    <thead>
      <tr>
        {columns.map((title) => (
          <th key={title} scope="col" className={numeric.includes(title) ? 'num' : undefined}>
            {title}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}
