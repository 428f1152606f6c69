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
