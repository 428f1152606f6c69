// What every signed-in screen knows: the tenant, the paper account, the caller's role, instruments.
import { createContext, useContext } from 'react';

/** An instrument as the desk lists it. */
export interface DeskInstrument {
  symbol: string;
  name: string;
  assetClass: string;
  currency: string;
  tickSize: string;
  lotSize: string;
  tradable: boolean;
  quote?: { last: string; bid: string; ask: string } | null;
}

export interface Desk {
  tenantId: string;
  accountId: string;
  currency: string;
  role: string;
  organizationName: string;
  instruments: readonly DeskInstrument[];
}

export const DeskContext = createContext<Desk | undefined>(undefined);

/** The signed-in desk (inside DeskContext only). */
export function useDesk(): Desk {
  const d = useContext(DeskContext);
  if (!d) throw new Error('useDesk outside DeskContext');
  return d;
}
