/**
 * Static cost of an operation against the supergraph, computed before any subgraph is called.
 */
import {
  BREAK,
  buildSchema,
  Kind,
  parse,
  printIntrospectionSchema,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type TypeNode,
  type ValueNode,
  visit,
} from 'graphql';

/** How list sizes and fetches are weighed; see the module comment. */
export interface CostSettings {
  /** Size of a list field without a size argument. */
  listSize: number;
  /** Size of a paginated list field whose size argument is omitted and has no schema default. */
  pageSize: number;
  /** Cost of each fetch to a subgraph. */
  fetchCost: number;
}

/** Arguments read as a list's size. */
const SIZE_ARGS = ['first', 'last', 'limit'];

interface FieldInfo {
  /** Named type (wrappers removed). */
  type: string;
  list: boolean;
  /** Default of its size argument in the schema; null when it has a size argument without default. */
  sizeDefault: number | null | undefined;
  /** Subgraphs that resolve it; undefined for fields the gateway answers (introspection). */
  graphs: readonly string[] | undefined;
  /** The same as a set key. */
  graphsKey: string;
}

type TypeFields = Map<string, FieldInfo>;

function unwrap(type: TypeNode): { name: string; list: boolean } {
  let list = false;
  let t = type;
  while (t.kind !== Kind.NAMED_TYPE) {
    if (t.kind === Kind.LIST_TYPE) list = true;
    t = t.type;
  }
  return { name: t.name.value, list };
}

/**
 * True when a variable can change the document's cost: some size argument (`first`, `last`, `limit`)
 * takes a variable. Variables reach {@link QueryCostModel.cost} nowhere else, so the cost of any other
 * document (a mutation's input, say) is the same whatever its variables.
 */
export function costDependsOnVariables(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Argument(node) {
      if (node.value.kind !== Kind.VARIABLE || !SIZE_ARGS.includes(node.name.value)) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

function intOf(value: ValueNode | undefined): number | undefined {
  return value?.kind === Kind.INT ? Number(value.value) : undefined;
}

function joinGraphs(directives: readonly DirectiveNode[] | undefined, name: string): string[] {
  const out: string[] = [];
  for (const d of directives ?? []) {
    if (d.name.value !== name) continue;
    const graph = d.arguments?.find((a) => a.name.value === 'graph')?.value;
    const external = d.arguments?.find((a) => a.name.value === 'external')?.value;
    if (external?.kind === Kind.BOOLEAN && external.value) continue;
    if (graph?.kind === Kind.ENUM) out.push(graph.value);
  }
  return out;
}

/** The result of {@link QueryCostModel.cost}: the total and how it splits. */
export interface OperationCost {
  cost: number;
  /** Objects the operation may return, lists multiplied. */
  objects: number;
  /** Fetches to subgraphs (entity boundaries and root fetches). */
  fetches: number;
}

/**
 * The cost model of one supergraph: field types, size arguments and the subgraphs resolving each
 * field, read from the supergraph SDL's `@join__type` / `@join__field` directives.
 *
 * Every object a field returns costs 1 (scalars and enums 0); a list field multiplies the cost of its
 * selection by its size: its `first`/`last`/`limit` argument (variables resolved), else the argument's
 * schema default, else `pageSize` for a paginated list (one that takes such an argument) or
 * `listSize` for any other list. Nested lists multiply. Each entity boundary (a selection set whose
 * fields need a subgraph the parent did not come from) adds `fetchCost` once, not multiplied by the
 * enclosing lists: the gateway sends one batched fetch per boundary, and the per-entity work is
 * already in the object costs.
 */
export class QueryCostModel {
  private readonly types = new Map<string, TypeFields>();
  private readonly roots: Record<'query' | 'mutation' | 'subscription', string> = {
    query: 'Query',
    mutation: 'Mutation',
    subscription: 'Subscription',
  };

  constructor(
    supergraphSdl: string,
    private readonly settings: CostSettings,
  ) {
    this.addDefinitions(parse(supergraphSdl).definitions, true);
    // The introspection types are not in the SDL; the gateway answers them (no subgraph fetch).
    const introspection = printIntrospectionSchema(buildSchema('type Query { _: Int }'));
    this.addDefinitions(parse(introspection).definitions, false);
    const query = this.types.get(this.roots.query);
    const gateway = { list: false, sizeDefault: undefined, graphs: undefined, graphsKey: '' };
    query?.set('__schema', { type: '__Schema', ...gateway });
    query?.set('__type', { type: '__Type', ...gateway });
  }

  private addDefinitions(definitions: readonly DefinitionNode[], federated: boolean): void {
    for (const def of definitions) {
      if (def.kind === Kind.SCHEMA_DEFINITION) {
        for (const op of def.operationTypes) this.roots[op.operation] = op.type.name.value;
        continue;
      }
      if (
        def.kind !== Kind.OBJECT_TYPE_DEFINITION &&
        def.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
        def.kind !== Kind.OBJECT_TYPE_EXTENSION &&
        def.kind !== Kind.INTERFACE_TYPE_EXTENSION
      ) {
        continue;
      }
      const typeGraphs = federated ? joinGraphs(def.directives, 'join__type') : [];
      const fields = this.types.get(def.name.value) ?? new Map<string, FieldInfo>();
      for (const field of def.fields ?? [])
        fields.set(field.name.value, this.fieldInfo(field, typeGraphs, federated));
      this.types.set(def.name.value, fields);
    }
  }

  private fieldInfo(field: FieldDefinitionNode, typeGraphs: string[], federated: boolean): FieldInfo {
    const { name, list } = unwrap(field.type);
    const sizeArg = field.arguments?.find((a) => SIZE_ARGS.includes(a.name.value));
    const own = joinGraphs(field.directives, 'join__field');
    const graphs = federated ? [...new Set(own.length > 0 ? own : typeGraphs)].sort() : undefined;
    return {
      type: name,
      list,
      sizeDefault: sizeArg ? (intOf(sizeArg.defaultValue) ?? null) : undefined,
      graphs,
      graphsKey: graphs?.join(',') ?? '',
    };
  }

  /**
   * The cost of the operation named `operationName` (or the only one) of `document`, or undefined
   * when there is no such operation. Unknown types and fields cost 0 (validation reports them).
   */
  cost(
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Readonly<Record<string, unknown>> | null | undefined,
  ): OperationCost | undefined {
    const operations = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    const operation = operationName
      ? operations.find((o) => o.name?.value === operationName)
      : operations.length === 1
        ? operations[0]
        : undefined;
    if (!operation) return undefined;
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    }
    const values = new Map<string, number>();
    for (const v of operation.variableDefinitions ?? []) {
      const given = variables?.[v.variable.name.value];
      const size =
        typeof given === 'number' ? given : given === undefined ? intOf(v.defaultValue) : undefined;
      if (size !== undefined) values.set(v.variable.name.value, size);
    }
    const walk = new CostWalk(this.types, this.settings, fragments, values);
    const { objects, fetches } = walk.selection(
      this.roots[operation.operation],
      operation.selectionSet,
      [],
      undefined,
    );
    const cost = Math.min(objects + fetches * this.settings.fetchCost, Number.MAX_SAFE_INTEGER);
    return { cost, objects, fetches };
  }
}

interface Partial {
  objects: number;
  fetches: number;
}

/** One computation: fragments and variables of one request, fragment costs memoized. */
class CostWalk {
  private readonly memo = new Map<string, Partial>();
  private readonly expanding = new Set<string>();

  constructor(
    private readonly types: ReadonlyMap<string, TypeFields>,
    private readonly settings: CostSettings,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly variables: ReadonlyMap<string, number>,
  ) {}

  private sizeOf(value: ValueNode | undefined): number | undefined {
    if (value?.kind === Kind.VARIABLE) return this.variables.get(value.name.value);
    return intOf(value);
  }

  /**
   * Cost of a selection set on `typeName`, whose objects came from the subgraphs `from` (none at the
   * root); `inherited` sizes its lists when the parent field took a size argument (a page object).
   */
  selection(
    typeName: string,
    set: SelectionSetNode,
    from: readonly string[],
    inherited: number | undefined,
  ): Partial {
    const fields = this.types.get(typeName);
    const targets = new Set<string>();
    const out: Partial = { objects: 0, fetches: 0 };
    for (const sel of set.selections) {
      let part: Partial;
      if (sel.kind === Kind.FIELD) {
        const info = fields?.get(sel.name.value);
        if (!info) continue;
        let graphs = from;
        if (info.graphs !== undefined && !info.graphs.some((g) => from.includes(g))) {
          targets.add(info.graphsKey);
          graphs = info.graphs;
        }
        if (!sel.selectionSet) continue;
        const explicit = this.sizeOf(sel.arguments?.find((a) => SIZE_ARGS.includes(a.name.value))?.value);
        const given = explicit ?? info.sizeDefault ?? undefined;
        // An omitted size of a paginated field means the subgraph's default page, not a short list.
        const sized = given ?? (info.sizeDefault === null ? this.settings.pageSize : undefined);
        const size = info.list ? Math.max(0, sized ?? inherited ?? this.settings.listSize) : 1;
        const inner = this.selection(info.type, sel.selectionSet, graphs, info.list ? undefined : sized);
        part = { objects: size * (1 + inner.objects), fetches: inner.fetches };
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        part = this.selection(sel.typeCondition?.name.value ?? typeName, sel.selectionSet, from, inherited);
      } else {
        const name = sel.name.value;
        const fragment = this.fragments.get(name);
        // A cycle is reported by graphql-js' NoFragmentCyclesRule; here it just stops.
        if (!fragment || this.expanding.has(name)) continue;
        const key = `${name}|${from.join(',')}|${inherited ?? ''}`;
        let memo = this.memo.get(key);
        if (!memo) {
          this.expanding.add(name);
          memo = this.selection(fragment.typeCondition.name.value, fragment.selectionSet, from, inherited);
          this.expanding.delete(name);
          this.memo.set(key, memo);
        }
        part = memo;
      }
      out.objects += part.objects;
      out.fetches += part.fetches;
    }
    out.fetches += targets.size;
    return out;
  }
}
