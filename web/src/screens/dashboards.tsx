// Saved dashboards: widget layouts, versioned. A save names the version it was edited from; when
// someone saved in between, the API answers CONFLICT and the user chooses to reload theirs away or
// to overwrite with the current version number.
import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { useDesk } from '../desk-context';
import { describeError, errorCode } from '../errors';
import { time } from '../format';
import { graphql } from '../gql';
import { ErrorText } from '../ui';

graphql(`
  fragment DashboardFields on Dashboard {
    id
    name
    version
    editable
    shared
    updatedAt
    widgets {
      id
      kind
      config
      layout
    }
  }
`);

const DashboardsQuery = graphql(`
  query Dashboards {
    dashboards {
      ...DashboardFields
    }
  }
`);

const SaveDashboardMutation = graphql(`
  mutation SaveDashboard($input: SaveDashboardInput!) {
    saveDashboard(input: $input) {
      ...DashboardFields
    }
  }
`);

const DeleteDashboardMutation = graphql(`
  mutation DeleteDashboard($id: ID!) {
    deleteDashboard(id: $id)
  }
`);

const KINDS = ['watchlist', 'chart', 'orders', 'positions', 'performance'] as const;

interface DraftWidget {
  key: string;
  kind: string;
  symbol: string;
}
interface Draft {
  id?: string;
  version?: number;
  name: string;
  widgets: DraftWidget[];
}

const symbolOf = (config: unknown): string =>
  typeof config === 'object' && config !== null && 'symbol' in config && typeof config.symbol === 'string'
    ? config.symbol
    : '';

/** The dashboards screen. */
export function DashboardsScreen(): React.JSX.Element {
  const { instruments } = useDesk();
  const q = useQuery(DashboardsQuery, { fetchPolicy: 'network-only' });
  const [save, saving] = useMutation(SaveDashboardMutation);
  const [remove] = useMutation(DeleteDashboardMutation);
  const [draft, setDraft] = useState<Draft | undefined>();
  const [conflict, setConflict] = useState(false);
  const [message, setMessage] = useState('');
  let nextKey = 0;
  const key = (): string => `w${Date.now()}-${nextKey++}`;

  const open = (d: NonNullable<typeof q.data>['dashboards'][number]): void => {
    setConflict(false);
    setMessage('');
    setDraft({
      id: d.id,
      version: d.version,
      name: d.name,
      widgets: d.widgets.map((w) => ({ key: w.id, kind: w.kind, symbol: symbolOf(w.config) })),
    });
  };
  const submit = async (version?: number): Promise<void> => {
    if (!draft) return;
    setMessage('');
    try {
      const { data } = await save({
        variables: {
          input: {
            ...(draft.id ? { id: draft.id, version: version ?? draft.version } : {}),
            name: draft.name,
            widgets: draft.widgets.map((w, n) => ({
              kind: w.kind,
              config: w.symbol ? { symbol: w.symbol } : {},
              layout: { x: (n % 2) * 6, y: Math.floor(n / 2) * 4, w: 6, h: 4 },
            })),
          },
        },
      });
      if (data) {
        open(data.saveDashboard);
        setMessage(`Saved (version ${data.saveDashboard.version}).`);
        void q.refetch();
      }
    } catch (err) {
      if (errorCode(err) === 'CONFLICT') setConflict(true);
      else setMessage(describeError(err));
    }
  };
  const reload = async (): Promise<void> => {
    const fresh = await q.refetch();
    const d = fresh.data?.dashboards.find((x) => x.id === draft?.id);
    if (d) open(d);
    else setDraft(undefined);
  };
  const overwrite = async (): Promise<void> => {
    const fresh = await q.refetch();
    const d = fresh.data?.dashboards.find((x) => x.id === draft?.id);
    setConflict(false);
    await submit(d?.version);
  };
  const update = (change: Partial<Draft>): void => setDraft((d) => (d ? { ...d, ...change } : d));

  return (
    <div className="split">
      <section className="panel" aria-labelledby="dash-list-title">
        <h2 id="dash-list-title">Dashboards</h2>
        <ErrorText message={q.error ? describeError(q.error) : undefined} />
        <ul className="list">
          {(q.data?.dashboards ?? []).map((d) => (
            <li key={d.id}>
              <button
                type="button"
                className="link"
                onClick={() => open(d)}
                aria-current={draft?.id === d.id}
              >
                {d.name}
              </button>
              <span className="small muted">
                v{d.version} · {d.widgets.length} widgets · {time(d.updatedAt, true)}
                {d.shared ? ' · shared' : ''}
              </span>
            </li>
          ))}
        </ul>
        <button
          type="button"
          onClick={() => {
            setConflict(false);
            setDraft({ name: 'My desk', widgets: [{ key: key(), kind: 'watchlist', symbol: '' }] });
          }}
        >
          New dashboard
        </button>
      </section>
      {draft && (
        <section className="panel" aria-labelledby="dash-edit-title">
          <h2 id="dash-edit-title">
            {draft.id ? `Edit ${draft.name} (version ${draft.version})` : 'New dashboard'}
          </h2>
          <label>
            Dashboard name
            <input value={draft.name} onChange={(e) => update({ name: e.target.value })} />
          </label>
          <ol className="widgets">
            {draft.widgets.map((w, n) => (
              <li key={w.key} className="row">
                <label className="inline">
                  Widget {n + 1} kind
                  <select
                    value={w.kind}
                    onChange={(e) =>
                      update({
                        widgets: draft.widgets.map((x) =>
                          x.key === w.key ? { ...x, kind: e.target.value } : x,
                        ),
                      })
                    }
                  >
                    {KINDS.map((k) => (
                      <option key={k}>{k}</option>
                    ))}
                  </select>
                </label>
                <label className="inline">
                  Widget {n + 1} symbol
                  <select
                    value={w.symbol}
                    onChange={(e) =>
                      update({
                        widgets: draft.widgets.map((x) =>
                          x.key === w.key ? { ...x, symbol: e.target.value } : x,
                        ),
                      })
                    }
                  >
                    <option value="">(any)</option>
                    {instruments.map((i) => (
                      <option key={i.symbol}>{i.symbol}</option>
                    ))}
                  </select>
                </label>
                <button
                  type="button"
                  className="small-btn secondary"
                  aria-label={`Remove widget ${n + 1}`}
                  onClick={() => update({ widgets: draft.widgets.filter((x) => x.key !== w.key) })}
                >
                  Remove
                </button>
              </li>
            ))}
          </ol>
          <div className="row">
            <button
              type="button"
              className="secondary"
              onClick={() =>
                update({ widgets: [...draft.widgets, { key: key(), kind: 'chart', symbol: '' }] })
              }
            >
              Add widget
            </button>
            <button
              type="button"
              disabled={saving.loading || !draft.name.trim()}
              onClick={() => void submit()}
            >
              Save dashboard
            </button>
            {draft.id && (
              <button
                type="button"
                className="danger"
                onClick={() => {
                  const id = draft.id;
                  if (!id) return;
                  void remove({ variables: { id } }).then(
                    () => {
                      setDraft(undefined);
                      void q.refetch();
                    },
                    (err: unknown) => setMessage(describeError(err)),
                  );
                }}
              >
                Delete dashboard
              </button>
            )}
          </div>
          {conflict && (
            <div role="alert" className="preview bad">
              <p>
                This dashboard was saved elsewhere after you opened it. Reload it (your changes are dropped)
                or overwrite it with yours.
              </p>
              <div className="row">
                <button type="button" className="secondary" onClick={() => void reload()}>
                  Reload
                </button>
                <button type="button" className="danger" onClick={() => void overwrite()}>
                  Overwrite
                </button>
              </div>
            </div>
          )}
          <p role="status">{message}</p>
        </section>
      )}
    </div>
  );
}
