/**
 * Validation rules bounding the shape of an operation before the gateway plans it: selection depth
 * and number of aliases. Both follow fragment spreads (a fragment spread twice counts twice) and
 * stay finite on fragment cycles: a cycle is reported by graphql-js' own `NoFragmentCyclesRule`,
 * which runs alongside these rules, so here a spread that re-enters the current path counts as 0.
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { badInput } from '../../lib/errors.js';

/**
 * Introspection (`__schema`, `__type`) nests `ofType` deeply by design: GraphiQL's own introspection
 * query is 13 levels deep. Its subtree gets this allowance instead of the configured depth, so
 * GraphiQL and codegen keep working while a hand-made `__type { fields { type { fields ...` stays bounded.
 */
export const INTROSPECTION_MAX_DEPTH = 16;

type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

function fragmentsOf(context: ValidationContext): Fragments {
  const map = new Map<string, FragmentDefinitionNode>();
  for (const def of context.getDocument().definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) map.set(def.name.value, def);
  }
  return map;
}

/**
 * Apollo re-labels every validation error GRAPHQL_VALIDATION_FAILED; carrying a domain error as the
 * original lets the shared error formatter answer BAD_USER_INPUT (still HTTP 400) with the details.
 */
function limitError(message: string, details: Record<string, unknown>): GraphQLError {
  const original = badInput(message, details);
  return new GraphQLError(message, {
    originalError: original,
    extensions: { code: original.code, ...details },
  });
}

/**
 * Depth of a selection set: 1 + the deepest field below it; fragments add no depth of their own.
 * `path` holds the fragments being expanded (cycle guard); `memo` caches each fragment's depth.
 */
function selectionDepth(
  set: SelectionSetNode | undefined,
  fragments: Fragments,
  path: Set<string>,
  memo: Map<string, number>,
): number {
  if (!set) return 0;
  let max = 0;
  for (const sel of set.selections) {
    switch (sel.kind) {
      case Kind.FIELD:
        max = Math.max(max, 1 + selectionDepth(sel.selectionSet, fragments, path, memo));
        break;
      case Kind.INLINE_FRAGMENT:
        max = Math.max(max, selectionDepth(sel.selectionSet, fragments, path, memo));
        break;
      case Kind.FRAGMENT_SPREAD: {
        const name = sel.name.value;
        if (path.has(name)) break;
        let depth = memo.get(name);
        if (depth === undefined) {
          const def = fragments.get(name);
          if (!def) break;
          path.add(name);
          depth = selectionDepth(def.selectionSet, fragments, path, memo);
          path.delete(name);
          // Inside a cycle this value is truncated; such a document fails NoFragmentCyclesRule anyway.
          memo.set(name, depth);
        }
        max = Math.max(max, depth);
        break;
      }
    }
  }
  return max;
}

/** Deepest root field of an operation, apart from introspection root fields (their own allowance). */
export interface OperationDepth {
  depth: number;
  introspectionDepth: number;
}

/**
 * Depths of an operation, fragments at the root included. Fragments are expanded once each (memo),
 * so a document that spreads fragments exponentially costs linear time here. Exported for tests.
 */
export function operationDepth(operation: OperationDefinitionNode, fragments: Fragments): OperationDepth {
  const fieldMemo = new Map<string, number>();
  const rootMemo = new Map<string, OperationDepth>();
  const visitRoot = (set: SelectionSetNode, path: Set<string>): OperationDepth => {
    const out: OperationDepth = { depth: 0, introspectionDepth: 0 };
    const merge = (d: OperationDepth): void => {
      out.depth = Math.max(out.depth, d.depth);
      out.introspectionDepth = Math.max(out.introspectionDepth, d.introspectionDepth);
    };
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const depth = 1 + selectionDepth(sel.selectionSet, fragments, path, fieldMemo);
        const name = sel.name.value;
        if (name === '__schema' || name === '__type') merge({ depth: 0, introspectionDepth: depth });
        else merge({ depth, introspectionDepth: 0 });
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        merge(visitRoot(sel.selectionSet, path));
      } else {
        const name = sel.name.value;
        const def = fragments.get(name);
        if (!def || path.has(name)) continue;
        let d = rootMemo.get(name);
        if (!d) {
          path.add(name);
          d = visitRoot(def.selectionSet, path);
          path.delete(name);
          rootMemo.set(name, d);
        }
        merge(d);
      }
    }
    return out;
  };
  return visitRoot(operation.selectionSet, new Set());
}

/**
 * Rejects operations nested deeper than `maxDepth` fields (introspection root fields: up to
 * {@link INTROSPECTION_MAX_DEPTH}) with BAD_USER_INPUT.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context);
    return {
      OperationDefinition(node) {
        const { depth, introspectionDepth } = operationDepth(node, fragments);
        const introspectionLimit = Math.max(maxDepth, INTROSPECTION_MAX_DEPTH);
        const [found, limit] =
          depth > maxDepth ? [depth, maxDepth] : [introspectionDepth, introspectionLimit];
        if (found > limit) {
          context.reportError(
            limitError(`Query is nested too deeply (depth ${found}, limit ${limit})`, {
              limit: 'depth',
              max: limit,
            }),
          );
        }
      },
    };
  };
}

/** Number of aliased fields in a selection set, fragments expanded; see {@link selectionDepth}. */
function aliasCount(
  set: SelectionSetNode | undefined,
  fragments: Fragments,
  path: Set<string>,
  memo: Map<string, number>,
): number {
  if (!set) return 0;
  let total = 0;
  for (const sel of set.selections) {
    switch (sel.kind) {
      case Kind.FIELD:
        if (sel.alias) total += 1;
        total += aliasCount(sel.selectionSet, fragments, path, memo);
        break;
      case Kind.INLINE_FRAGMENT:
        total += aliasCount(sel.selectionSet, fragments, path, memo);
        break;
      case Kind.FRAGMENT_SPREAD: {
        const name = sel.name.value;
        if (path.has(name)) break;
        let count = memo.get(name);
        if (count === undefined) {
          const def = fragments.get(name);
          if (!def) break;
          path.add(name);
          count = aliasCount(def.selectionSet, fragments, path, memo);
          path.delete(name);
          memo.set(name, count);
        }
        total += count;
        break;
      }
    }
    // Stop early: fragments spread many times can multiply the count past any number worth computing.
    if (total > Number.MAX_SAFE_INTEGER / 2) return total;
  }
  return total;
}

/** Number of aliases in an operation, fragments expanded. Exported for tests. */
export function operationAliases(operation: OperationDefinitionNode, fragments: Fragments): number {
  return aliasCount(operation.selectionSet, fragments, new Set(), new Map());
}

/** Rejects operations with more than `maxAliases` aliased fields with BAD_USER_INPUT. */
export function aliasLimitRule(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context);
    return {
      OperationDefinition(node) {
        const count = operationAliases(node, fragments);
        if (count > maxAliases) {
          context.reportError(
            limitError(`Too many aliases (${count}, limit ${maxAliases})`, {
              limit: 'aliases',
              max: maxAliases,
            }),
          );
        }
      },
    };
  };
}
